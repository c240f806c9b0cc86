//! The REST API through a real server on a free loopback port: each endpoint's
//! success and failure paths, the auth matrix, concurrent editors, bad input.

mod support;

use serde_json::{json, Value};
use sop_manager::{check_listen, Config, DbSpec, ListenPolicy};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_openapi_and_unknown_paths() {
    let (_d, s) = standard().await;
    let c = Client::new(&s.url);
    let a = c.get("/api/health").await;
    assert_eq!((a.status, a.body["status"].clone()), (200, json!("ok")));
    let a = c.get("/api/openapi.json").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["openapi"], json!("3.0.3"));
    // Every path named in docs/API.md is in the OpenAPI file.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md")).unwrap();
    for p in a.body["paths"].as_object().unwrap().keys() {
        assert!(doc.contains(p.as_str()), "docs/API.md does not name {p}");
    }
    let a = c.get("/api/nothing").await;
    assert_eq!(
        (a.status, a.body["error"].clone()),
        (404, json!("not_found"))
    );
    let a = c.send("PATCH", "/api/health", None, &[]).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body["error"], json!("method_not_allowed"), "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_logout_and_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("main");
    make_db(&db);
    let users = sop_manager::Users::load(&users_file(dir.path())).unwrap();
    let mut config = Config::new(
        vec![DbSpec {
            name: "main".into(),
            path: db,
        }],
        Some(users),
    );
    config.token_ttl = Duration::from_millis(1500);
    let s = serve(config).await;
    let c = Client::new(&s.url);
    let bad = c
        .post(
            "/api/auth/login",
            json!({"username": "reader", "password": "nope"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"].clone()),
        (401, json!("unauthorized"))
    );
    let a = c
        .post(
            "/api/auth/login",
            json!({"username": "reader", "password": PASSWORD}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    for f in ["access_token", "refresh_token", "expires_in", "role"] {
        assert!(a.body.get(f).is_some(), "login answers {f}: {a:?}");
    }
    assert_eq!(a.body["role"], json!("reader"));
    let mut r = c.clone();
    r.token = Some(a.body["access_token"].as_str().unwrap().into());
    assert_eq!(r.get("/api/databases").await.status, 200);
    // Refresh after 1 s: the new access token lives 1.5 s from then, past the old one's end.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let f = c
        .post(
            "/api/auth/refresh",
            json!({"refresh_token": a.body["refresh_token"]}),
        )
        .await;
    assert_eq!(f.status, 200, "{f:?}");
    let mut r2 = c.clone();
    r2.token = Some(f.body["access_token"].as_str().unwrap().into());
    assert_eq!(
        r.get("/api/databases").await.status,
        401,
        "the old access token is rotated out"
    );
    tokio::time::sleep(Duration::from_millis(800)).await; // 1.8 s after login
    assert_eq!(
        r2.get("/api/databases").await.status,
        200,
        "refresh really extends"
    );
    // The old refresh token is spent.
    let again = c
        .post(
            "/api/auth/refresh",
            json!({"refresh_token": a.body["refresh_token"]}),
        )
        .await;
    assert_eq!(again.status, 401);
    // Logout revokes the access and the refresh token.
    assert_eq!(r2.post("/api/auth/logout", json!({})).await.status, 204);
    assert_eq!(r2.get("/api/databases").await.status, 401);
    let after = c
        .post(
            "/api/auth/refresh",
            json!({"refresh_token": f.body["refresh_token"]}),
        )
        .await;
    assert_eq!(after.status, 401);
    // Expiry without refresh.
    let a = Client::login(&s.url, "writer").await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let e = a.get("/api/databases").await;
    assert_eq!(e.status, 401);
    assert!(
        e.body["message"].as_str().unwrap().contains("expired"),
        "{e:?}"
    );
    // Failed logins: after 5 for a user, even the right password waits.
    // (This address already failed once above: its own limit may answer 429 first.)
    for _ in 0..5 {
        let b = c
            .post(
                "/api/auth/login",
                json!({"username": "admin", "password": "wrong"}),
            )
            .await;
        assert!(b.status == 401 || b.status == 429, "{b:?}");
    }
    let l = c
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (l.status, l.body["error"].clone()),
        (429, json!("rate_limited")),
        "{l:?}"
    );
    // Malformed logins.
    assert_eq!(
        c.send("POST", "/api/auth/login", Some("{".into()), &[])
            .await
            .body["error"],
        json!("bad_json")
    );
    assert_eq!(
        c.post("/api/auth/login", json!({"username": "x"}))
            .await
            .status,
        400
    );
    assert_eq!(
        c.send(
            "GET",
            "/api/databases",
            None,
            &[("authorization", "Basic eDp5")]
        )
        .await
        .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_create_info_drop() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let dup = admin
        .post("/api/databases/main/stores", json!({"name": "people"}))
        .await;
    assert_eq!(
        (dup.status, dup.body["error"].clone()),
        (409, json!("exists"))
    );
    let bad = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "x", "key_spec": "a:sideways"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let bad = admin
        .post("/api/databases/main/stores", json!({"name": "../etc"}))
        .await;
    assert_eq!(
        (bad.status, bad.body["error"].clone()),
        (400, json!("bad_name"))
    );
    let bad = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "y", "slot_length": 1}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let ok = admin
        .post("/api/databases/main/stores", json!({"name": "dups", "unique": false, "key_spec": [{"field": "k", "order": "desc"}], "description": "d"}))
        .await;
    assert_eq!(ok.status, 201, "{ok:?}");
    let list = admin.get("/api/databases/main/stores").await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dups", "people"]);
    let info = admin.get("/api/databases/main/stores/dups").await;
    assert_eq!(
        (
            info.body["unique"].clone(),
            info.body["description"].clone()
        ),
        (json!(false), json!("d"))
    );
    assert_eq!(
        admin.get("/api/databases/main/stores/none").await.status,
        404
    );
    assert_eq!(admin.get("/api/databases/other/stores").await.status, 404);
    let dbs = admin.get("/api/databases").await;
    assert_eq!(dbs.body[0]["name"], json!("main"));
    assert_eq!(dbs.body[0]["mode"], json!("standalone"));
    assert_eq!(dbs.body[0]["stores"], json!(2));
    // Drop needs the name repeated.
    let no = admin.delete("/api/databases/main/stores/dups").await;
    assert_eq!(no.status, 400);
    let no = admin
        .delete("/api/databases/main/stores/dups?confirm=people")
        .await;
    assert_eq!(no.status, 400);
    let yes = admin
        .delete("/api/databases/main/stores/dups?confirm=dups")
        .await;
    assert_eq!(yes.status, 200, "{yes:?}");
    assert_eq!(
        admin.get("/api/databases/main/stores/dups").await.status,
        404
    );
    assert_eq!(
        admin
            .delete("/api/databases/main/stores/dups?confirm=dups")
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_get_put_add_delete_and_bad_input() {
    let (dir, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let w = Client::login(&s.url, "writer").await;
    let k = json!({"id": "ada"});
    let a = w.put(ITEMS, json!({"key": k, "value": {"age": 36}})).await;
    assert_eq!(a.status, 201, "{a:?}");
    let v1 = a.body["version"].as_str().unwrap().to_string();
    let g = w.get(&format!("{ITEMS}?key={}", q(&k))).await;
    assert_eq!(g.status, 200);
    assert_eq!(
        g.body,
        json!({"key": k, "value": {"age": 36}, "version": v1})
    );
    assert_eq!(g.headers["etag"].to_str().unwrap(), format!("\"{v1}\""));
    // Replace (200), then the stale version is refused (412) and changes nothing.
    let a = w.put(ITEMS, json!({"key": k, "value": {"age": 37}})).await;
    assert_eq!(a.status, 200);
    let stale = w
        .send(
            "PUT",
            ITEMS,
            Some(json!({"key": k, "value": {"age": 99}}).to_string()),
            &[("if-match", &format!("\"{v1}\""))],
        )
        .await;
    assert_eq!(
        (stale.status, stale.body["error"].clone()),
        (412, json!("precondition_failed"))
    );
    assert_eq!(
        w.get(&format!("{ITEMS}?key={}", q(&k))).await.body["value"],
        json!({"age": 37})
    );
    let v2 = w.get(&format!("{ITEMS}?key={}", q(&k))).await.body["version"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = w
        .send(
            "PUT",
            ITEMS,
            Some(json!({"key": k, "value": {"age": 38}}).to_string()),
            &[("if-match", &v2)],
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let none = w
        .send(
            "PUT",
            ITEMS,
            Some(json!({"key": k, "value": 1}).to_string()),
            &[("if-none-match", "*")],
        )
        .await;
    assert_eq!(none.status, 412);
    // Add: only if absent.
    assert_eq!(
        w.post(ITEMS, json!({"key": {"id": "bob"}, "value": 1}))
            .await
            .status,
        201
    );
    let dup = w
        .post(ITEMS, json!({"key": {"id": "bob"}, "value": 2}))
        .await;
    assert_eq!(
        (dup.status, dup.body["error"].clone()),
        (409, json!("exists"))
    );
    // Delete: with a stale If-Match 412, then plainly, then 404.
    let del = w
        .send(
            "DELETE",
            &format!("{ITEMS}?key={}", q(&k)),
            None,
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(del.status, 412);
    assert_eq!(
        w.delete(&format!("{ITEMS}?key={}", q(&k))).await.status,
        200
    );
    assert_eq!(
        w.delete(&format!("{ITEMS}?key={}", q(&k))).await.status,
        404
    );
    assert_eq!(w.get(&format!("{ITEMS}?key={}", q(&k))).await.status, 404);
    // Bad input: each a JSON error with the right status, nothing changed.
    let count =
        || async { admin.get("/api/databases/main/stores/people").await.body["items"].clone() };
    let before = count().await;
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        (
            "PUT",
            ITEMS.into(),
            Some("{not json".into()),
            400,
            "bad_json",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(r#"{"key":{"id":"a"},"value":1,"value":2}"#.into()),
            400,
            "bad_json",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(r#"{"key":{"id":"a"}}"#.into()),
            400,
            "bad_request",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(r#"{"key":{"id":"a"},"value":1,"x":0}"#.into()),
            400,
            "bad_request",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(r#"{"key":[1,2],"value":1}"#.into()),
            400,
            "bad_key",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(format!(
                r#"{{"key":{{"id":"{}"}},"value":1}}"#,
                "x".repeat(sop::MAX_KEY_LEN + 1)
            )),
            400,
            "bad_key",
        ),
        (
            "PUT",
            ITEMS.into(),
            Some(format!(
                r#"{{"key":{{"id":"a"}},"value":"{}"}}"#,
                "x".repeat(100 << 10)
            )),
            413,
            "too_large",
        ),
        ("GET", format!("{ITEMS}?key=nope"), None, 400, "bad_json"),
        (
            "GET",
            format!("{ITEMS}?key=%7B%22id%22%3A%5B%5D"),
            None,
            400,
            "bad_json",
        ),
        ("GET", format!("{ITEMS}?after=!!!"), None, 400, "bad_cursor"),
        (
            "GET",
            format!("{ITEMS}?after=WzEsMl0"),
            None,
            400,
            "bad_cursor",
        ),
        ("GET", format!("{ITEMS}?limit=0"), None, 400, "bad_request"),
        (
            "GET",
            format!("{ITEMS}?limit=abc"),
            None,
            400,
            "bad_request",
        ),
        (
            "GET",
            format!("{ITEMS}?desc=maybe"),
            None,
            400,
            "bad_request",
        ),
        (
            "GET",
            format!("{ITEMS}?filter=nonsense"),
            None,
            400,
            "bad_request",
        ),
        (
            "GET",
            "/api/databases/main/stores/..%2F..%2Fetc/items".into(),
            None,
            400,
            "bad_name",
        ),
        (
            "GET",
            "/api/databases/main/stores/.hidden/items".into(),
            None,
            400,
            "bad_name",
        ),
        (
            "GET",
            "/api/databases/nodb/stores/people/items".into(),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/api/databases/main/stores/nostore/items".into(),
            None,
            404,
            "not_found",
        ),
        ("DELETE", ITEMS.into(), None, 400, "bad_request"),
        (
            "POST",
            format!("{}/batch", ITEMS.trim_end_matches("/items")),
            Some(r#"{"ops":[{"op":"zap","key":1}]}"#.into()),
            400,
            "bad_request",
        ),
    ];
    for (method, path, body, status, kind) in cases {
        let a = w.send(method, &path, body, &[]).await;
        assert_eq!(
            (a.status, a.body["error"].as_str().unwrap_or("")),
            (status, kind),
            "{method} {path}: {a:?}"
        );
        assert!(a.body["message"].is_string(), "{a:?}");
    }
    assert_eq!(count().await, before);
    // The audit log names the writer and each write.
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["user"] == "writer"
        && l["action"] == "put"
        && l["key"].is_null()
        && l["detail"]["key"] == k));
    assert!(lines
        .iter()
        .any(|l| l["user"] == "admin" && l["action"] == "create_store"));
    assert!(lines
        .iter()
        .all(|l| l["time"].as_str().unwrap().ends_with('Z')));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_seek_filters_and_duplicates() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let ops: Vec<Value> = (0..250)
        .map(|i| json!({"op": "put", "key": {"id": format!("p{i:04}")}, "value": {"n": i, "name": format!("name{i}")}}))
        .collect();
    let b = admin
        .post(
            "/api/databases/main/stores/people/batch",
            json!({"ops": ops}),
        )
        .await;
    assert_eq!(b.status, 200, "{b:?}");
    // Forward through every page, and backward.
    for desc in [false, true] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut p = format!("{ITEMS}?limit=100&desc={desc}");
            if let Some(a) = &after {
                p.push_str(&format!("&after={a}"));
            }
            let a = admin.get(&p).await;
            assert_eq!(a.status, 200, "{a:?}");
            for it in a.body["items"].as_array().unwrap() {
                seen.push(it["value"]["n"].as_i64().unwrap());
            }
            match a.body["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        let mut want: Vec<i64> = (0..250).collect();
        if desc {
            want.reverse();
        }
        assert_eq!(seen, want, "desc={desc}");
    }
    // from/to and seek.
    let a = admin
        .get(&format!(
            "{ITEMS}?from={}&to={}",
            q(&json!({"id": "p0010"})),
            q(&json!({"id": "p0012"}))
        ))
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(a.body["next"], Value::Null);
    // Filters, with the count examined; a short scan limit still gives a next.
    let a = admin
        .get(&format!("{ITEMS}?filter=value.n%3E240&limit=100"))
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 9);
    assert_eq!(a.body["examined"], json!(250));
    let a = admin
        .get(&format!(
            "{ITEMS}?filter=value.name%5E%3Dname24&filter=value.n%3C245"
        ))
        .await;
    let ns: Vec<i64> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [24, 240, 241, 242, 243, 244]);
    let a = admin.get(&format!("{ITEMS}?filter=key.id=p0007")).await;
    assert_eq!(a.body["items"][0]["value"]["n"], json!(7));
    let a = admin.get(&format!("{ITEMS}?filter=value.missing%3F")).await;
    assert_eq!(
        (
            a.body["items"].as_array().unwrap().len(),
            a.body["examined"].clone()
        ),
        (0, json!(250))
    );
    // A store with duplicate keys pages without losing or repeating any.
    assert_eq!(
        admin
            .post(
                "/api/databases/main/stores",
                json!({"name": "dups", "unique": false})
            )
            .await
            .status,
        201
    );
    let ops: Vec<Value> = (0..30)
        .map(|i| json!({"op": "put", "key": i / 10, "value": i}))
        .collect();
    assert_eq!(
        admin
            .post("/api/databases/main/stores/dups/batch", json!({"ops": ops}))
            .await
            .status,
        200
    );
    for desc in [false, true] {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let a = admin
                .get(&format!(
                    "/api/databases/main/stores/dups/items?limit=4&desc={desc}{after}"
                ))
                .await;
            assert_eq!(a.status, 200, "{a:?}");
            seen.extend(
                a.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["value"].as_i64().unwrap()),
            );
            match a.body["next"].as_str() {
                Some(n) => after = format!("&after={n}"),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, (0..30).collect::<Vec<_>>(), "desc={desc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_range_delete_import_export_jobs_metrics() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let base = "/api/databases/main/stores/people";
    // A batch that fails at its third op applies nothing.
    let b = admin
        .post(
            &format!("{base}/batch"),
            json!({"ops": [
            {"op": "put", "key": {"id": "a"}, "value": 1},
            {"op": "put", "key": {"id": "b"}, "value": 2},
            {"op": "update", "key": {"id": "zzz"}, "value": 3}]}),
        )
        .await;
    assert_eq!(b.status, 404, "{b:?}");
    assert!(
        b.body["message"].as_str().unwrap().starts_with("op 2:"),
        "{b:?}"
    );
    assert_eq!(
        admin.get(&format!("{base}/items")).await.body["items"],
        json!([])
    );
    let b = admin
        .post(
            &format!("{base}/batch"),
            json!({"ops": [
            {"op": "put", "key": {"id": "a"}, "value": 1},
            {"op": "add", "key": {"id": "b"}, "value": 2},
            {"op": "delete", "key": {"id": "a"}}]}),
        )
        .await;
    assert_eq!((b.status, b.body["applied"].clone()), (200, json!(3)));
    // Import: streamed lines, committed in batches; a bad line names its number.
    let lines: String = (0..2500)
        .map(|i| format!("{{\"key\":{{\"id\":\"i{i:05}\"}},\"value\":{i}}}\n"))
        .collect();
    let a = admin
        .send(
            "POST",
            &format!("{base}/import?batch=1000"),
            Some(lines.clone()),
            &[],
        )
        .await;
    assert_eq!(
        (a.status, a.body["imported"].clone()),
        (200, json!(2500)),
        "{a:?}"
    );
    let bad = "{\"key\":{\"id\":\"x1\"},\"value\":1}\n{\"key\":{\"id\":\"x2\"},\"value\":2}\n\n{\"key\":{\"id\":\"x3\"}}\n";
    let a = admin
        .send(
            "POST",
            &format!("{base}/import?batch=1"),
            Some(bad.into()),
            &[],
        )
        .await;
    assert_eq!(a.status, 400);
    let msg = a.body["message"].as_str().unwrap();
    assert!(
        msg.starts_with("line 4:") && msg.contains("2 items before it were committed"),
        "{msg}"
    );
    assert_eq!(
        admin
            .send(
                "POST",
                "/api/databases/main/stores/none/import",
                Some(lines),
                &[]
            )
            .await
            .status,
        404
    );
    // Export: every item as a line, in key order.
    let e = admin.get(&format!("{base}/export")).await;
    assert_eq!(e.status, 200);
    assert_eq!(e.headers["content-type"], "application/x-ndjson");
    let got: Vec<Value> = e
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 2503);
    assert_eq!(got[0], json!({"key": {"id": "b"}, "value": 2}));
    let e = admin
        .get(&format!(
            "{base}/export?from={}&to={}",
            q(&json!({"id": "i00010"})),
            q(&json!({"id": "i00019"}))
        ))
        .await;
    assert_eq!(e.text.lines().count(), 10);
    assert_eq!(
        admin
            .get("/api/databases/main/stores/none/export")
            .await
            .status,
        404
    );
    // Range delete.
    let d = admin
        .post(
            &format!("{base}/delete-range"),
            json!({"from": {"id": "i"}, "to": {"id": "i00999"}}),
        )
        .await;
    assert_eq!(
        (d.status, d.body["deleted"].clone()),
        (200, json!(1000)),
        "{d:?}"
    );
    assert_eq!(
        admin
            .post(&format!("{base}/delete-range"), json!({}))
            .await
            .status,
        400
    );
    let d = admin
        .post(&format!("{base}/delete-range"), json!({"all": true}))
        .await;
    assert_eq!(d.body["deleted"], json!(1503));
    // A maintenance job, polled to its end.
    let j = admin
        .post("/api/databases/main/jobs", json!({"kind": "check"}))
        .await;
    assert_eq!(j.status, 202);
    let id = j.body["id"].as_u64().unwrap();
    let mut state = String::new();
    for _ in 0..200 {
        let g = admin.get(&format!("/api/jobs/{id}")).await;
        state = g.body["state"].as_str().unwrap().to_string();
        if state != "running" {
            assert_eq!(g.body["result"]["ok"], json!(true), "{g:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "done");
    assert_eq!(
        admin
            .post("/api/databases/main/jobs", json!({"kind": "format"}))
            .await
            .status,
        400
    );
    assert_eq!(admin.get("/api/jobs/999").await.status, 404);
    // Metrics in Prometheus text.
    let m = admin.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    for name in [
        "sop_manager_commits_total",
        "sop_manager_commit_seconds_bucket{le=\"+Inf\"}",
        "sop_db_head{db=\"main\"}",
        "sop_db_bytes{db=\"main\"}",
        "sop_manager_conflicts_total",
    ] {
        assert!(m.text.contains(name), "{name} missing in\n{}", m.text);
    }
    let commits: u64 = m
        .text
        .lines()
        .find(|l| l.starts_with("sop_manager_commits_total "))
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(commits >= 5, "{commits}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_editors_get_412_not_lost_updates() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let k = json!({"id": "doc"});
    assert_eq!(
        admin
            .put(ITEMS, json!({"key": k, "value": {"v": -1}}))
            .await
            .status,
        201
    );
    let v0 = admin.get(&format!("{ITEMS}?key={}", q(&k))).await.body["version"]
        .as_str()
        .unwrap()
        .to_string();
    // Eight editors opened the item at v0; each saves its own edit.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c, k, v0) = (admin.clone(), k.clone(), v0.clone());
        tasks.push(tokio::spawn(async move {
            let a = c
                .send(
                    "PUT",
                    ITEMS,
                    Some(json!({"key": k, "value": {"v": i}}).to_string()),
                    &[("if-match", &v0)],
                )
                .await;
            (i, a.status)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, status) = t.await.unwrap();
        match status {
            200 => winners.push(i),
            412 => {}
            other => panic!("editor {i}: status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one edit wins: {winners:?}");
    let now = admin.get(&format!("{ITEMS}?key={}", q(&k))).await;
    assert_eq!(now.body["value"], json!({"v": winners[0]}));
}

/// Each role (and anonymous) × each endpoint → the expected status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_matrix() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    admin
        .put(ITEMS, json!({"key": {"id": "1"}, "value": 1}))
        .await;
    for r in ["reader", "writer", "admin"] {
        assert_eq!(
            admin
                .post(
                    "/api/databases/main/stores",
                    json!({"name": format!("drop_{r}")})
                )
                .await
                .status,
            201
        );
        admin
            .put(ITEMS, json!({"key": {"id": format!("d_{r}")}, "value": 1}))
            .await;
    }
    let job = admin
        .post("/api/databases/main/jobs", json!({"kind": "stats"}))
        .await;
    assert_eq!(job.status, 202);
    let job = job.body["id"].as_u64().unwrap();
    // A byte store with an item per role to delete, and a text index.
    let bin = "/api/databases/main/stores/bin/bytes";
    assert_eq!(
        admin
            .post(
                "/api/databases/main/stores",
                json!({"name": "bin", "kind": "bytes"})
            )
            .await
            .status,
        201
    );
    for r in ["reader", "writer", "admin"] {
        let a = admin
            .put(
                bin,
                json!({"key": format!("d_{r}"), "value": "", "encoding": "utf8"}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    {
        let db = &s.manager.databases()[0].db;
        let tx = db.begin(sop::TxMode::ForWriting).unwrap();
        sop_search::TextIndex::create(&tx, "people", sop_search::IndexConfig::new(&["name"]))
            .unwrap();
        tx.commit().unwrap();
    }
    let st = "/api/databases/main/stores/people";
    // (method, path, body, least role: None = public)
    let table: Vec<(&str, String, Option<String>, Option<&str>)> = vec![
        ("GET", "/api/health".into(), None, None),
        ("GET", "/api/openapi.json".into(), None, None),
        ("GET", "/api/auth/me".into(), None, Some("reader")),
        ("GET", "/api/metrics".into(), None, Some("reader")),
        ("GET", "/metrics".into(), None, Some("reader")),
        ("GET", "/api/databases".into(), None, Some("reader")),
        (
            "GET",
            "/api/databases/main/stores".into(),
            None,
            Some("reader"),
        ),
        (
            "POST",
            "/api/databases/main/stores".into(),
            Some(r#"{"name":"made_{role}"}"#.into()),
            Some("admin"),
        ),
        ("GET", st.into(), None, Some("reader")),
        (
            "DELETE",
            "/api/databases/main/stores/drop_{role}?confirm=drop_{role}".into(),
            None,
            Some("admin"),
        ),
        (
            "GET",
            format!("{st}/items?key={}", q(&json!({"id": "1"}))),
            None,
            Some("reader"),
        ),
        ("GET", format!("{st}/items?limit=5"), None, Some("reader")),
        (
            "PUT",
            format!("{st}/items"),
            Some(r#"{"key":{"id":"m_{role}"},"value":1}"#.into()),
            Some("writer"),
        ),
        (
            "POST",
            format!("{st}/items"),
            Some(r#"{"key":{"id":"a_{role}"},"value":1}"#.into()),
            Some("writer"),
        ),
        (
            "DELETE",
            format!("{st}/items?key=%7B%22id%22%3A%22d_{{role}}%22%7D"),
            None,
            Some("writer"),
        ),
        (
            "POST",
            format!("{st}/batch"),
            Some(r#"{"ops":[{"op":"put","key":{"id":"b_{role}"},"value":1}]}"#.into()),
            Some("writer"),
        ),
        (
            "POST",
            format!("{st}/delete-range"),
            Some(r#"{"from":{"id":"zz"},"to":{"id":"zz"}}"#.into()),
            Some("writer"),
        ),
        (
            "POST",
            format!("{st}/import"),
            Some(r#"{"key":{"id":"i_{role}"},"value":1}"#.into()),
            Some("writer"),
        ),
        ("GET", format!("{st}/export"), None, Some("reader")),
        (
            "POST",
            "/api/databases/main/jobs".into(),
            Some(r#"{"kind":"stats"}"#.into()),
            Some("admin"),
        ),
        ("GET", format!("/api/jobs/{job}"), None, Some("admin")),
        ("GET", format!("{bin}?limit=5"), None, Some("reader")),
        (
            "GET",
            format!("{bin}?key=d_reader&encoding=utf8"),
            None,
            Some("reader"),
        ),
        (
            "PUT",
            bin.into(),
            Some(r#"{"key":"w_{role}","value":"","encoding":"utf8"}"#.into()),
            Some("writer"),
        ),
        (
            "DELETE",
            format!("{bin}?key=d_{{role}}&encoding=utf8"),
            None,
            Some("writer"),
        ),
        ("GET", format!("{st}/bytes?limit=5"), None, Some("reader")),
        (
            "GET",
            "/api/databases/main/indexes".into(),
            None,
            Some("reader"),
        ),
        (
            "GET",
            format!("{st}/search?index=people&q=ada"),
            None,
            Some("reader"),
        ),
        ("POST", "/api/auth/logout".into(), None, Some("reader")),
    ];
    let rank = |r: &str| {
        ["reader", "writer", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    let mut wrong = Vec::new();
    for role in ["anonymous", "reader", "writer", "admin"] {
        let c = if role == "anonymous" {
            Client::new(&s.url)
        } else {
            Client::login(&s.url, role).await
        };
        for (method, path, body, least) in &table {
            let path = path.replace("{role}", role);
            let body = body.as_ref().map(|b| b.replace("{role}", role));
            let a = c.send(method, &path, body, &[]).await;
            let ok = match (least, role) {
                (None, _) => (200..300).contains(&a.status),
                (Some(_), "anonymous") => a.status == 401,
                (Some(l), r) if rank(r) < rank(l) => a.status == 403,
                _ => (200..300).contains(&a.status),
            };
            if !ok {
                wrong.push(format!(
                    "{role:9} {method:6} {path}: {} {}",
                    a.status, a.text
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected answers:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_the_csrf_token() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let c = Client::new(&s.url);
    let l = c
        .post(
            "/api/auth/login",
            json!({"username": "writer", "password": PASSWORD, "session": true}),
        )
        .await;
    let set = l.headers["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "no Secure without TLS: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = l.body["csrf_token"].as_str().unwrap().to_string();
    let body = Some(json!({"key": {"id": "c"}, "value": 1}).to_string());
    let host = s.url.trim_start_matches("http://").to_string();
    let origin = s.url.clone();
    // Reads need only the cookie; the page shows the app with the token.
    assert_eq!(
        c.send("GET", "/api/databases", None, &[("cookie", &cookie)])
            .await
            .status,
        200
    );
    let page = c.send("GET", "/", None, &[("cookie", &cookie)]).await;
    assert!(page.text.contains(&csrf) && page.text.contains("writer"));
    assert!(!Client::new(&s.url).get("/").await.text.contains(&csrf));
    // Writes need the CSRF token, from this origin.
    let a = c
        .send("PUT", ITEMS, body.clone(), &[("cookie", &cookie)])
        .await;
    assert_eq!((a.status, a.body["error"].clone()), (403, json!("csrf")));
    let a = c
        .send(
            "PUT",
            ITEMS,
            body.clone(),
            &[("cookie", &cookie), ("x-csrf-token", "guess")],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = c
        .send(
            "PUT",
            ITEMS,
            body.clone(),
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", "http://evil.example"),
            ],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = c
        .send(
            "PUT",
            ITEMS,
            body.clone(),
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", &origin),
                ("host", &host),
            ],
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    // Logout through the cookie ends it.
    let a = c
        .send(
            "POST",
            "/api/auth/logout",
            None,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        c.send("GET", "/api/databases", None, &[("cookie", &cookie)])
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_users_only_localhost_and_same_site() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("main");
    make_db(&db);
    let s = serve(Config::new(
        vec![DbSpec::parse(db.to_str().unwrap()).unwrap()],
        None,
    ))
    .await;
    let c = Client::new(&s.url);
    let me = c.get("/api/auth/me").await;
    assert_eq!(
        (me.body["role"].clone(), me.body["anonymous"].clone()),
        (json!("admin"), json!(true))
    );
    let a = c
        .send(
            "GET",
            "/api/databases",
            None,
            &[("host", "evil.example:80")],
        )
        .await;
    assert_eq!(a.status, 403, "a rebound name is refused");
    let a = c
        .send("GET", "/api/databases", None, &[("host", "localhost:8080")])
        .await;
    assert_eq!(a.status, 200);
    let mk = Some(json!({"name": "s"}).to_string());
    let a = c
        .send(
            "POST",
            "/api/databases/main/stores",
            mk.clone(),
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!((a.status, a.body["error"].clone()), (403, json!("csrf")));
    let a = c
        .send(
            "POST",
            "/api/databases/main/stores",
            mk.clone(),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = c.send("POST", "/api/databases/main/stores", mk, &[]).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(
        c.post("/api/auth/login", json!({"username": "a", "password": "b"}))
            .await
            .status,
        400
    );
    assert_eq!(
        c.send(
            "GET",
            "/api/databases",
            None,
            &[("authorization", "Bearer x")]
        )
        .await
        .status,
        401
    );
}

#[test]
fn unsafe_listening_is_refused() {
    let p = |listen: &str, users, tls, insecure, no_auth| ListenPolicy {
        listen: listen.parse().unwrap(),
        users,
        tls,
        insecure,
        no_auth_loopback: no_auth,
    };
    let ok = |x: &ListenPolicy| check_listen(x).is_ok();
    assert!(
        !ok(&p("127.0.0.1:8080", false, false, false, false)),
        "no users needs the explicit flag"
    );
    assert!(ok(&p("127.0.0.1:8080", false, false, false, true)));
    assert!(ok(&p("[::1]:8080", false, false, false, true)));
    assert!(
        !ok(&p("0.0.0.0:8080", false, false, false, true)),
        "never without users off loopback"
    );
    assert!(!ok(&p("0.0.0.0:8080", false, true, true, true)));
    assert!(
        !ok(&p("0.0.0.0:8080", true, false, false, false)),
        "no TLS off loopback"
    );
    assert!(
        ok(&p("0.0.0.0:8080", true, false, true, false)),
        "--insecure overrides TLS"
    );
    assert!(ok(&p("0.0.0.0:8080", true, true, false, false)));
    assert!(ok(&p("127.0.0.1:8080", true, false, false, false)));
    assert!(
        !ok(&p("127.0.0.1:8080", true, false, false, true)),
        "the two exclude each other"
    );
}

#[test]
fn users_file_add_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u.json");
    assert!(
        sop_manager::Users::add_user(&p, "a b", sop_manager::Role::Admin, "long enough").is_err()
    );
    assert!(sop_manager::Users::add_user(&p, "ab", sop_manager::Role::Admin, "short").is_err());
    sop_manager::Users::add_user(&p, "ab", sop_manager::Role::Admin, "long enough").unwrap();
    sop_manager::Users::add_user(&p, "ab", sop_manager::Role::Reader, "long enough 2").unwrap();
    let u = sop_manager::Users::load(&p).unwrap();
    assert_eq!(u.users.len(), 1);
    assert_eq!(u.users[0].role, sop_manager::Role::Reader);
    assert!(u.users[0].hash.starts_with("$argon2id$"));
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(!text.contains("long enough"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
