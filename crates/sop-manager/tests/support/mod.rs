//! A real server on a free loopback port, and a small client for it.
#![allow(dead_code)]

use serde_json::{json, Value};
use sop_manager::{Config, DbSpec, Manager, Role, ServeOptions, Users};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

/// A users file with `admin`, `writer` and `reader` (password PASSWORD).
pub fn users_file(dir: &Path) -> PathBuf {
    let p = dir.join("users.json");
    for (n, r) in [
        ("admin", Role::Admin),
        ("writer", Role::Writer),
        ("reader", Role::Reader),
    ] {
        Users::add_user(&p, n, r, PASSWORD).unwrap();
    }
    p
}

/// Create a Standalone database at `path`.
pub fn make_db(path: &Path) {
    sop::Database::create_config(path, sop::Coordination::Standalone).unwrap();
}

pub struct Server {
    pub url: String,
    pub manager: Arc<Manager>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `config` on a free loopback port.
pub async fn serve(config: Config) -> Server {
    let manager = Manager::open(config).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(sop_manager::serve(
        manager.clone(),
        ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
        },
        move |a| {
            let _ = tx.send(a);
        },
    ));
    let addr = rx.await.expect("the server starts");
    Server {
        url: format!("http://{addr}"),
        manager,
        task,
    }
}

/// A fresh folder with one database `main` and the three users; served.
pub async fn standard() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("main");
    make_db(&db);
    let users = Users::load(&users_file(dir.path())).unwrap();
    let mut config = Config::new(
        vec![DbSpec {
            name: "main".into(),
            path: db,
        }],
        Some(users),
    );
    config.audit_log = Some(dir.path().join("audit.jsonl"));
    config.body_limit = 64 << 10;
    let s = serve(config).await;
    (dir, s)
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            token: None,
        }
    }
    pub async fn login(base: &str, user: &str) -> Client {
        let mut c = Client::new(base);
        let a = c
            .send(
                "POST",
                "/api/auth/login",
                Some(json!({"username": user, "password": PASSWORD}).to_string()),
                &[],
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
        c.token = Some(a.body["access_token"].as_str().unwrap().to_string());
        c
    }
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            text,
            headers,
        }
    }
    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body.to_string()), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body.to_string()), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None, &[]).await
    }
}

/// `?key=` for a JSON key.
pub fn q(v: &Value) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub const ITEMS: &str = "/api/databases/main/stores/people/items";

/// Create store `people` (key spec `id`) through the API, as `admin`.
pub async fn people(admin: &Client) {
    let a = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "people", "key_spec": "id"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
}
