//! `sop serve` as a user runs it: the refusals of unsafe setups, `sop serve
//! user add`, and two `sop serve` processes on one Clustered database (a real
//! Redis, SOP_TEST_REDIS_URL) serving the same data.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SOP: &str = env!("CARGO_BIN_EXE_sop");
const PASSWORD: &str = "a long enough password";

fn user_add(users: &Path, name: &str, role: &str, password: &str) -> std::process::Output {
    let mut c = Command::new(SOP)
        .args(["serve", "user", "add", name, "--role", role, "--users"])
        .arg(users)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    c.wait_with_output().unwrap()
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(SOP)
        .args(["serve", "--json", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let url = v["url"].as_str().unwrap();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Server { child, addr }
}

/// One HTTP/1.1 request; the status and the JSON body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let rest = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut body = String::new();
        let mut r = rest;
        while let Some((size, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            body.push_str(&tail[..n]);
            r = &tail[n + 2..];
        }
        body
    } else {
        rest.to_string()
    };
    (
        status,
        serde_json::from_str(&rest).unwrap_or(Value::String(rest)),
    )
}

fn login(addr: &str, user: &str) -> String {
    let (st, v) = http(
        addr,
        "POST",
        "/api/auth/login",
        None,
        Some(&json!({"username": user, "password": PASSWORD})),
        &[],
    );
    assert_eq!(st, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

fn q(v: &Value) -> String {
    v.to_string()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn unsafe_setups_are_refused_and_users_are_added_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    assert!(Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .arg("init")
        .status()
        .unwrap()
        .success());
    let users = dir.path().join("users.json");
    let run = |args: &[&str]| {
        let o = Command::new(SOP)
            .arg("serve")
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "sop serve {args:?} should refuse");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(
        run(&[]).contains("--no-auth-loopback"),
        "no users file: refused with the way out"
    );
    let e = run(&["--listen", "0.0.0.0:0", "--no-auth-loopback"]);
    assert!(e.contains("without users"), "{e}");
    // Users: the password from stdin, never in the file.
    let o = user_add(&users, "ada", "admin", &format!("{PASSWORD}\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(text.contains("$argon2id$") && !text.contains(PASSWORD));
    assert!(
        !user_add(&users, "bob", "writer", "").status.success(),
        "an empty password is refused"
    );
    assert!(
        !user_add(&users, "bob", "root", PASSWORD).status.success(),
        "an unknown role is refused"
    );
    let e = run(&["--listen", "0.0.0.0:0", "--users", users.to_str().unwrap()]);
    assert!(e.contains("without TLS"), "{e}");
    let e = run(&["--users", users.to_str().unwrap(), "--no-auth-loopback"]);
    assert!(e.contains("cannot be used with"), "{e}");
    // Other commands take one --db.
    let o = Command::new(SOP)
        .args(["--db", "a", "--db", "b", "stats"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // With users on loopback it serves, and says where.
    let s = serve(&[
        "--db",
        &format!("main={}", db.display()),
        "--users",
        users.to_str().unwrap(),
    ]);
    assert_eq!(http(&s.addr, "GET", "/api/health", None, None, &[]).0, 200);
    let t = login(&s.addr, "ada");
    let (st, v) = http(&s.addr, "GET", "/api/databases", Some(&t), None, &[]);
    assert_eq!((st, v[0]["name"].clone()), (200, json!("main")));
    // The audit log goes beside the users file by default.
    let (st, _) = http(
        &s.addr,
        "POST",
        "/api/databases/main/stores",
        Some(&t),
        Some(&json!({"name": "s"})),
        &[],
    );
    assert_eq!(st, 201);
    let log = std::fs::read_to_string(dir.path().join("sop-audit.jsonl")).unwrap();
    assert!(
        log.contains("\"user\":\"ada\"") && log.contains("create_store"),
        "{log}"
    );
}

#[test]
fn two_servers_share_one_clustered_database() {
    let url = std::env::var("SOP_TEST_REDIS_URL").expect(
        "SOP_TEST_REDIS_URL is not set: run the tests with scripts/test.sh (it starts a Redis)",
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared");
    let o = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .args(["init", "--redis", &url])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sop init --redis: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let users = dir.path().join("users.json");
    assert!(user_add(&users, "ada", "admin", PASSWORD).status.success());
    let spec = format!("shared={}", db.display());
    let args = ["--db", spec.as_str(), "--users", users.to_str().unwrap()];
    let (a, b) = (serve(&args), serve(&args));
    let (ta, tb) = (login(&a.addr, "ada"), login(&b.addr, "ada"));
    // Both serve it in Clustered mode, with Redis up.
    for (s, t) in [(&a, &ta), (&b, &tb)] {
        let (_, v) = http(&s.addr, "GET", "/api/databases", Some(t), None, &[]);
        assert_eq!(
            (v[0]["mode"].clone(), v[0]["redis_up"].clone()),
            (json!("clustered"), json!(true)),
            "{v}"
        );
    }
    let (st, v) = http(
        &a.addr,
        "POST",
        "/api/databases/shared/stores",
        Some(&ta),
        Some(&json!({"name": "notes", "key_spec": "id"})),
        &[],
    );
    assert_eq!(st, 201, "{v}");
    let items = "/api/databases/shared/stores/notes/items";
    let k = json!({"id": 1});
    let (st, put) = http(
        &a.addr,
        "PUT",
        items,
        Some(&ta),
        Some(&json!({"key": k, "value": "through A"})),
        &[],
    );
    assert_eq!(st, 201, "{put}");
    // A write through A is read through B.
    let (st, got) = http(
        &b.addr,
        "GET",
        &format!("{items}?key={}", q(&k)),
        Some(&tb),
        None,
        &[],
    );
    assert_eq!(
        (st, got["value"].clone()),
        (200, json!("through A")),
        "{got}"
    );
    // B edits from that version; A's editor, still at it, gets 412 through A.
    let v1 = got["version"].as_str().unwrap().to_string();
    let (st, _) = http(
        &b.addr,
        "PUT",
        items,
        Some(&tb),
        Some(&json!({"key": k, "value": "through B"})),
        &[("If-Match", &v1)],
    );
    assert_eq!(st, 200);
    let (st, err) = http(
        &a.addr,
        "PUT",
        items,
        Some(&ta),
        Some(&json!({"key": k, "value": "stale"})),
        &[("If-Match", &v1)],
    );
    assert_eq!(
        (st, err["error"].clone()),
        (412, json!("precondition_failed")),
        "{err}"
    );
    let (_, now) = http(
        &a.addr,
        "GET",
        &format!("{items}?key={}", q(&k)),
        Some(&ta),
        None,
        &[],
    );
    assert_eq!(now["value"], json!("through B"));
    // Concurrent writes of different keys through both servers all land.
    let threads: Vec<_> = [(a.addr.clone(), ta.clone()), (b.addr.clone(), tb.clone())]
        .into_iter()
        .enumerate()
        .map(|(n, (addr, t))| {
            std::thread::spawn(move || {
                for i in 0..20 {
                    let (st, v) = http(
                        &addr,
                        "PUT",
                        items,
                        Some(&t),
                        Some(&json!({"key": {"id": 100 + n * 100 + i}, "value": n})),
                        &[],
                    );
                    assert_eq!(st, 201, "{v}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (_, page) = http(
        &b.addr,
        "GET",
        &format!("{items}?limit=1000"),
        Some(&tb),
        None,
        &[],
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 41);
    // Sessions live in the database's Redis: log in on A, use, refresh and
    // log out on B; each step holds on both servers.
    let (st, l) = http(
        &a.addr,
        "POST",
        "/api/auth/login",
        None,
        Some(&json!({"username": "ada", "password": PASSWORD})),
        &[],
    );
    assert_eq!(st, 200, "{l}");
    let (access, refresh) = (
        l["access_token"].as_str().unwrap().to_string(),
        l["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        http(&b.addr, "GET", "/api/databases", Some(&access), None, &[]).0,
        200,
        "a token from A works on B"
    );
    let (st, r) = http(
        &b.addr,
        "POST",
        "/api/auth/refresh",
        None,
        Some(&json!({"refresh_token": refresh})),
        &[],
    );
    assert_eq!(st, 200, "refresh on B: {r}");
    let access2 = r["access_token"].as_str().unwrap().to_string();
    for s in [&a, &b] {
        assert_eq!(
            http(&s.addr, "GET", "/api/databases", Some(&access), None, &[]).0,
            401,
            "the rotated-out token is refused everywhere"
        );
        assert_eq!(
            http(&s.addr, "GET", "/api/databases", Some(&access2), None, &[]).0,
            200
        );
    }
    // The old refresh token was consumed (on B): A refuses it too.
    let (st, _) = http(
        &a.addr,
        "POST",
        "/api/auth/refresh",
        None,
        Some(&json!({"refresh_token": refresh})),
        &[],
    );
    assert_eq!(st, 401);
    assert_eq!(
        http(
            &b.addr,
            "POST",
            "/api/auth/logout",
            Some(&access2),
            None,
            &[]
        )
        .0,
        204
    );
    for s in [&a, &b] {
        assert_eq!(
            http(&s.addr, "GET", "/api/databases", Some(&access2), None, &[]).0,
            401,
            "logout on B revokes on every server"
        );
    }
    // A maintenance job started on A is followed, with its progress, on B.
    let (st, j) = http(
        &a.addr,
        "POST",
        "/api/databases/shared/jobs",
        Some(&ta),
        Some(&json!({"kind": "check"})),
        &[],
    );
    assert_eq!(st, 202, "{j}");
    let id = j["id"].as_u64().unwrap();
    let mut seen = Value::Null;
    for _ in 0..200 {
        let (st, v) = http(
            &b.addr,
            "GET",
            &format!("/api/jobs/{id}"),
            Some(&tb),
            None,
            &[],
        );
        if st == 200 && v["state"] != json!("running") {
            seen = v;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen["state"], json!("done"), "{seen}");
    assert_eq!(seen["result"]["ok"], json!(true), "{seen}");
    assert_eq!(
        (
            seen["progress"]["done"].clone(),
            seen["progress"]["total"].clone()
        ),
        (json!(41), json!(41)),
        "{seen}"
    );
    // The other sessions are untouched; Redis holds hashes, never a token.
    assert_eq!(
        http(&b.addr, "GET", "/api/databases", Some(&ta), None, &[]).0,
        200
    );
    let mut redis = redis_cli(&url, &["--scan", "--pattern", "sop:*:manager:*"]);
    redis.sort();
    assert!(!redis.is_empty(), "sessions are in Redis");
    let all = redis.join("\n");
    assert!(!all.contains(&ta) && !all.contains(&tb), "{all}");
    for k in redis.iter().filter(|k| k.contains(":manager:s:")) {
        let rec = redis_cli(&url, &["GET", k]).join("");
        assert!(!rec.contains(&ta) && !rec.contains(&tb), "{rec}");
    }
    // Failed logins count across servers: five on A, and B makes the next wait.
    let login_as = |addr: &str, password: &str| {
        http(
            addr,
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "ada", "password": password})),
            &[],
        )
        .0
    };
    for _ in 0..5 {
        assert_eq!(login_as(&a.addr, "not the password"), 401);
    }
    assert_eq!(login_as(&b.addr, PASSWORD), 429);
}

/// `redis-cli -u URL ARGS...`: its output lines.
fn redis_cli(url: &str, args: &[&str]) -> Vec<String> {
    let o = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("redis-cli runs (scripts/redis-env.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
