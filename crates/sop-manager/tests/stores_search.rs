//! Byte stores (browse, edit with an explicit encoding, create), the search
//! box's endpoints over a sop-search index, the engine's counters in the
//! metrics, maintenance progress, and the sliding cookie; through a real
//! server on a free loopback port.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const BYTES: &str = "/api/databases/main/stores/blobs/bytes";

fn enc(s: &str) -> String {
    q(&Value::String(s.into()))
        .trim_start_matches("%22")
        .trim_end_matches("%22")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_stores_are_listed_browsed_edited_and_created() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    let writer = Client::login(&s.url, "writer").await;
    people(&admin).await;
    // Create: kind bytes, no key spec.
    let c = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "blobs", "kind": "bytes"}),
        )
        .await;
    assert_eq!(c.status, 201, "{c:?}");
    let bad = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "b2", "kind": "bytes", "key_spec": "id"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let bad = admin
        .post(
            "/api/databases/main/stores",
            json!({"name": "b3", "kind": "tables"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let list = admin.get("/api/databases/main/stores").await;
    let kinds: Vec<(Value, Value)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].clone(), s["kind"].clone()))
        .collect();
    assert!(
        kinds.contains(&(json!("blobs"), json!("bytes"))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(json!("people"), json!("json"))),
        "{kinds:?}"
    );
    // Put in each encoding; the same bytes come back in each.
    let a = writer
        .put(
            BYTES,
            json!({"key": "k1", "value": "héllo", "encoding": "utf8"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = writer
        .put(
            BYTES,
            json!({"key": "6b32", "value": "00ff10", "encoding": "hex"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = writer
        .put(
            BYTES,
            json!({"key": "azM=", "value": "", "encoding": "base64"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let g = writer.get(&format!("{BYTES}?key=6b32&encoding=hex")).await;
    assert_eq!((g.status, g.body["value"].clone()), (200, json!("00ff10")));
    let g = writer.get(&format!("{BYTES}?key=k2&encoding=utf8")).await;
    assert_eq!(g.body["value"], Value::Null, "not UTF-8: null, {g:?}");
    let g = writer.get(&format!("{BYTES}?key={}", enc("azE="))).await;
    assert_eq!(g.body["value"], json!("aMOpbGxv"), "base64 by default");
    let v1 = g.body["version"].as_str().unwrap().to_string();
    assert_eq!(g.headers["etag"].to_str().unwrap(), format!("\"{v1}\""));
    // Pages in byte order, with a seek cursor.
    let p = writer.get(&format!("{BYTES}?encoding=utf8&limit=2")).await;
    let keys: Vec<Value> = p.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].clone())
        .collect();
    assert_eq!(keys, vec![json!("k1"), json!("k2")], "{p:?}");
    let next = p.body["next"].as_str().unwrap().to_string();
    let p2 = writer
        .get(&format!("{BYTES}?encoding=utf8&limit=2&after={next}"))
        .await;
    assert_eq!(p2.body["items"][0]["key"], json!("k3"), "{p2:?}");
    assert_eq!(p2.body["next"], Value::Null);
    let d = writer
        .get(&format!("{BYTES}?encoding=utf8&desc=true&limit=1"))
        .await;
    assert_eq!(d.body["items"][0]["key"], json!("k3"));
    let pv = writer
        .get(&format!("{BYTES}?encoding=utf8&preview=2&limit=1"))
        .await;
    assert_eq!(
        (
            pv.body["items"][0]["value_bytes"].clone(),
            pv.body["items"][0]["truncated"].clone()
        ),
        (json!(6), json!(true)),
        "{pv:?}"
    );
    // If-Match: a stale version is refused, the current one wins.
    let body = Some(json!({"key": "k1", "value": "new", "encoding": "utf8"}).to_string());
    let a = writer
        .send(
            "PUT",
            BYTES,
            body.clone(),
            &[("If-Match", "\"0000000000000000\"")],
        )
        .await;
    assert_eq!(a.status, 412, "{a:?}");
    let a = writer
        .send("PUT", BYTES, body, &[("If-Match", &format!("\"{v1}\""))])
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = writer
        .send(
            "PUT",
            BYTES,
            Some(json!({"key": "k1", "value": "x", "encoding": "utf8"}).to_string()),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(a.status, 412, "{a:?}");
    // Bad input: an error, nothing changed.
    for (path, body) in [
        (
            BYTES.to_string(),
            json!({"key": "zz", "value": "00", "encoding": "hex"}),
        ),
        (
            BYTES.to_string(),
            json!({"key": "!!", "value": "", "encoding": "base64"}),
        ),
        (
            BYTES.to_string(),
            json!({"key": "k", "value": "", "encoding": "rot13"}),
        ),
        (
            BYTES.to_string(),
            json!({"key": "", "value": "", "encoding": "utf8"}),
        ),
        (
            BYTES.to_string(),
            json!({"key": "k", "value": "", "extra": 1}),
        ),
        (
            "/api/databases/main/stores/people/bytes".to_string(),
            json!({"key": "k", "value": "v", "encoding": "utf8"}),
        ),
    ] {
        let a = writer.put(&path, body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {a:?}");
        assert!(a.body["error"].is_string(), "{a:?}");
    }
    assert_eq!(writer.get(&format!("{BYTES}?after=%21")).await.status, 400);
    assert_eq!(writer.get(&format!("{BYTES}?limit=0")).await.status, 400);
    assert_eq!(
        writer
            .get("/api/databases/main/stores/nope/bytes")
            .await
            .status,
        404
    );
    // A JSON store reads at the byte level (its encoded keys and stored values).
    admin
        .put(ITEMS, json!({"key": {"id": "a"}, "value": {"n": 1}}))
        .await;
    let j = writer
        .get("/api/databases/main/stores/people/bytes?encoding=utf8")
        .await;
    assert!(
        j.body["items"][0]["value"]
            .as_str()
            .unwrap()
            .ends_with("{\"n\":1}"),
        "{j:?}"
    );
    assert_eq!(j.body["writable"], json!(false));
    // Delete, with and without If-Match; the audit log names each write.
    let g = writer.get(&format!("{BYTES}?key=k3&encoding=utf8")).await;
    let v3 = g.body["version"].as_str().unwrap().to_string();
    let a = writer
        .send(
            "DELETE",
            &format!("{BYTES}?key=k3&encoding=utf8"),
            None,
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, 412);
    let a = writer
        .send(
            "DELETE",
            &format!("{BYTES}?key=k3&encoding=utf8"),
            None,
            &[("If-Match", &v3)],
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        writer
            .delete(&format!("{BYTES}?key=k3&encoding=utf8"))
            .await
            .status,
        404
    );
    let p = writer.get(&format!("{BYTES}?encoding=utf8")).await;
    assert_eq!(p.body["items"].as_array().unwrap().len(), 2);
    let log = std::fs::read_to_string(_d.path().join("audit.jsonl")).unwrap();
    assert!(
        log.contains("put_bytes") && log.contains("delete_bytes"),
        "{log}"
    );
    // Readers read, never write.
    let reader = Client::login(&s.url, "reader").await;
    assert_eq!(reader.get(BYTES).await.status, 200);
    assert_eq!(
        reader
            .put(BYTES, json!({"key": "r", "value": "", "encoding": "utf8"}))
            .await
            .status,
        403
    );
}

/// Index store `people` with sop-search through the server's own handle
/// (what `sop index create people --fields name,bio --store people` does).
fn index_people(s: &Server) {
    let db = &s.manager.databases()[0].db;
    let tx = db.begin(sop::TxMode::ForWriting).unwrap();
    let index = sop_search::TextIndex::create(
        &tx,
        "people",
        sop_search::IndexConfig::new(&["name", "bio"]),
    )
    .unwrap();
    let store = tx.open_json_store("people").unwrap();
    let items: Vec<(Value, Value)> = store
        .range(None, None, false)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (k, v) in &items {
        index
            .update_json(&tx, sop_search::DocId::Str(k.to_string()), v)
            .unwrap();
    }
    // A document whose key is not in the store.
    index
        .update_json(
            &tx,
            sop_search::DocId::Str("{\"id\":\"gone\"}".into()),
            &json!({"name": "Ghost", "bio": "a rust ghost"}),
        )
        .unwrap();
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_lists_hits_with_scores_and_snippets() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    assert_eq!(
        admin.get("/api/databases/main/indexes").await.body,
        json!([])
    );
    for (id, name, bio) in [
        ("1", "Ada", "wrote the first program for an engine"),
        ("2", "Grace", "made the first compiler; rust never"),
        ("3", "Linus", "rust rust and more rust in the kernel"),
    ] {
        let a = admin
            .put(ITEMS, json!({"key": {"id": id}, "value": {"name": name, "bio": bio, "big": 12345678901234567890u64}}))
            .await;
        assert_eq!(a.status, 201);
    }
    index_people(&s);
    let reader = Client::login(&s.url, "reader").await;
    let l = reader.get("/api/databases/main/indexes").await;
    assert_eq!(l.body[0]["name"], json!("people"), "{l:?}");
    assert_eq!(l.body[0]["fields"], json!(["name", "bio"]));
    assert_eq!(l.body[0]["docs"], json!(4));
    let base = "/api/databases/main/stores/people/search";
    let r = reader.get(&format!("{base}?index=people&q=rust")).await;
    assert_eq!(r.status, 200, "{r:?}");
    let hits = r.body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3, "{r:?}");
    assert_eq!(hits[0]["key"], json!({"id": "3"}), "most rust first: {r:?}");
    assert!(hits[0]["score"].as_f64().unwrap() > hits[1]["score"].as_f64().unwrap());
    assert_eq!(hits[0]["value"]["name"], json!("Linus"));
    assert_eq!(hits[0]["snippet"]["field"], json!("bio"));
    let text = hits[0]["snippet"]["text"].as_str().unwrap();
    let (a, b) = (
        hits[0]["snippet"]["highlights"][0][0].as_u64().unwrap() as usize,
        hits[0]["snippet"]["highlights"][0][1].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[a..b], "rust");
    // Numbers stay exact in hits.
    assert!(r.text.contains("12345678901234567890"), "{}", r.text);
    let ghost = hits
        .iter()
        .find(|h| h["key"] == json!({"id": "gone"}))
        .unwrap();
    assert_eq!(ghost["in_store"], json!(false));
    let r = reader
        .get(&format!("{base}?index=people&q=compiler&k=1"))
        .await;
    assert_eq!(r.body["hits"][0]["key"], json!({"id": "2"}), "{r:?}");
    assert_eq!(r.body["hits"].as_array().unwrap().len(), 1);
    // Errors: no query, no index, unknown index, bad k, bad query.
    for (q, st) in [
        ("index=people", 400),
        ("q=rust", 400),
        ("index=nope&q=rust", 404),
        ("index=people&q=rust&k=0", 400),
        ("index=people&q=rust&k=1000", 400),
        ("index=..%2Fx&q=rust", 400),
        ("index=people&q=nofield:rust", 400),
    ] {
        let a = reader.get(&format!("{base}?{q}")).await;
        assert_eq!(a.status, st, "{q}: {a:?}");
        assert!(a.body["error"].is_string(), "{a:?}");
    }
    assert_eq!(
        Client::new(&s.url)
            .get(&format!("{base}?index=people&q=rust"))
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_engine_counters_and_jobs_show_progress() {
    let (_d, s) = standard().await;
    let admin = Client::login(&s.url, "admin").await;
    people(&admin).await;
    let lines: String = (0..300)
        .map(|i| {
            format!(
                "{}\n",
                json!({"key": {"id": format!("{i:04}")}, "value": i})
            )
        })
        .collect();
    let a = admin
        .send(
            "POST",
            "/api/databases/main/stores/people/import",
            Some(lines),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    for _ in 0..2 {
        admin.get(&format!("{ITEMS}?limit=100")).await;
    }
    let m = admin.get("/metrics").await;
    let value = |name: &str| -> f64 {
        m.text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{db=\"main\"}} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{}", m.text))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("sop_engine_commits_total") >= 2.0, "{}", m.text);
    assert!(
        value("sop_engine_node_cache_hits_total") > 0.0,
        "{}",
        m.text
    );
    let ratio = value("sop_engine_node_cache_hit_ratio");
    assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
    value("sop_engine_merges_total");
    value("sop_engine_conflicts_total");
    let j = admin.get("/api/metrics").await;
    assert!(
        j.body["databases"][0]["engine"]["commits"]
            .as_u64()
            .unwrap()
            >= 2,
        "{j:?}"
    );
    // A check reports its progress in items; done at the end.
    let j = admin
        .post("/api/databases/main/jobs", json!({"kind": "check"}))
        .await;
    let id = j.body["id"].as_u64().unwrap();
    let mut last = Value::Null;
    for _ in 0..200 {
        last = admin.get(&format!("/api/jobs/{id}")).await.body;
        if last["state"] != json!("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(last["state"], json!("done"), "{last}");
    assert_eq!(last["progress"]["unit"], json!("items"));
    assert_eq!(last["progress"]["total"], json!(300), "{last}");
    assert_eq!(last["progress"]["done"], json!(300), "{last}");
    assert_eq!(last["progress"]["fraction"], json!(1.0));
    // Stats has no progress figure, only its state.
    let j = admin
        .post("/api/databases/main/jobs", json!({"kind": "stats"}))
        .await;
    let id = j.body["id"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        admin.get(&format!("/api/jobs/{id}")).await.body["progress"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_renewed_with_the_servers_idle_limit() {
    let (_d, s) = standard().await;
    let c = Client::new(&s.url);
    let l = c
        .post(
            "/api/auth/login",
            json!({"username": "reader", "password": PASSWORD, "session": true}),
        )
        .await;
    let set = l.headers["set-cookie"].to_str().unwrap().to_string();
    let max_age = format!("Max-Age={}", 8 * 3600);
    assert!(set.contains(&max_age), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    // Each answer to the page sets the cookie again, with the full idle life
    // the server now gives the session; the page itself too.
    for path in ["/api/databases", "/"] {
        let a = c.send("GET", path, None, &[("cookie", &cookie)]).await;
        assert_eq!(a.status, 200);
        let again = a.headers["set-cookie"].to_str().unwrap();
        assert!(
            again.starts_with(&cookie) && again.contains(&max_age),
            "{again}"
        );
        assert!(again.contains("HttpOnly") && again.contains("SameSite=Strict"));
    }
    // A bearer client gets no cookie; a logout clears it.
    let b = Client::login(&s.url, "reader").await;
    assert!(b
        .get("/api/databases")
        .await
        .headers
        .get("set-cookie")
        .is_none());
    let csrf = l.body["csrf_token"].as_str().unwrap();
    let out = c
        .send(
            "POST",
            "/api/auth/logout",
            None,
            &[("cookie", &cookie), ("x-csrf-token", csrf)],
        )
        .await;
    assert_eq!(out.status, 204);
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        c.send("GET", "/api/databases", None, &[("cookie", &cookie)])
            .await
            .status,
        401
    );
}
