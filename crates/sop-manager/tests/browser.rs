//! The web page in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, fantoccini). A real login, then: create a store,
//! add items, edit one (and meet a conflict), import a file, page through
//! 1,000 items forward and back, filter, sort descending, delete, see the
//! dashboard, and the phone-width layout. Screenshots go to
//! `<target>/sop-manager-screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them);
//! SOP_TEST_CHROMEDRIVER and SOP_TEST_CHROMIUM name other binaries. Fails,
//! never skips, without them.

mod support;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> (Driver, u16) {
    let bin = std::env::var("SOP_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin} ({e}): install chromium-driver (scripts/test.sh does), or set SOP_TEST_CHROMEDRIVER")
        });
    let d = Driver(child);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (d, port)
}

fn shots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("sop-manager-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(b: &Browser, name: &str) {
    let png = b.screenshot().await.unwrap();
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

/// Wait until the text of `css` satisfies `ok`; its text.
async fn wait_text(b: &Browser, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    let mut last = String::new();
    loop {
        if let Ok(e) = b.find(Locator::Css(css)).await {
            if let Ok(text) = e.text().await {
                if ok(&text) {
                    return text;
                }
                last = text;
            }
        }
        if t.elapsed() > Duration::from_secs(15) {
            let _ = shot(b, "zz-timeout").await;
            panic!("waited 15 s for {css}; its text was {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn fill(b: &Browser, css: &str, text: &str) {
    let e = b
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(b: &Browser, css: &str) {
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn rows(b: &Browser) -> usize {
    b.find_all(Locator::Css("#items tr[data-version]"))
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_a_real_browser() {
    let (dir, s) = standard().await;
    let (_driver, port) = start_driver();
    let chromium =
        std::env::var("SOP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "no browser at {chromium}: install chromium (scripts/test.sh does) or set SOP_TEST_CHROMIUM");
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chromium, "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            format!("--user-data-dir={}", profile.path().display()), "--window-size=1280,900"]}),
    );
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session through chromedriver");
    run(&b, &s, dir.path()).await;
    no_auth_loopback(&b).await;
    let _ = b.close().await;
}

/// A server without users (`--no-auth-loopback`): the page opens as the
/// anonymous admin, and its writes (real browser headers: Origin, Sec-Fetch-Site)
/// go through.
async fn no_auth_loopback(b: &Browser) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("local");
    make_db(&db);
    let s = serve(sop_manager::Config::new(
        vec![sop_manager::DbSpec::parse(db.to_str().unwrap()).unwrap()],
        None,
    ))
    .await;
    b.goto(&format!("{}/#/db/local", s.url)).await.unwrap();
    wait_text(b, "#who", |t| t == "anonymous (admin)").await;
    assert!(!b
        .find(Locator::Css("#logout"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    fill(b, "#new-store-name", "notes").await;
    click(b, "#create-store-submit").await;
    wait_text(b, "#main h1", |t| t == "Store notes").await;
    shot(b, "11-no-auth-loopback").await;
}

async fn run(b: &Browser, s: &Server, dir: &std::path::Path) {
    let url = s.url.as_str();
    let api = Client::login(url, "admin").await;
    // Log in: a wrong password first, shown beside the form.
    b.goto(&format!("{url}/")).await.unwrap();
    fill(b, "#login-user", "admin").await;
    fill(b, "#login-password", "not the password").await;
    click(b, "#login-submit").await;
    wait_text(b, "#login-error", |t| t.contains("401")).await;
    shot(b, "01-login-error").await;
    fill(b, "#login-password", PASSWORD).await;
    click(b, "#login-submit").await;
    wait_text(b, "#who", |t| t == "admin (admin)").await;
    wait_text(b, "#dash-cards", |t| t.contains("Requests 2xx")).await;
    shot(b, "02-dashboard").await;

    // Create a store.
    click(b, "a.db[data-db='main']").await;
    fill(b, "#new-store-name", "people").await;
    fill(b, "#new-store-spec", "id").await;
    click(b, "#create-store-submit").await;
    wait_text(b, "#main h1", |t| t == "Store people").await;
    wait_text(b, "#page-info", |t| t.contains("0 items")).await;

    // Add two items through the editor; a bad JSON value is caught before saving.
    for (id, name) in [("a0001", "Ada"), ("a0002", "Grace")] {
        click(b, "#add-item").await;
        fill(b, "#edit-key", &format!("{{\"id\":\"{id}\"}}")).await;
        fill(b, "#edit-value", "{\"name\": oops}").await;
        click(b, "#edit-save").await;
        wait_text(b, "#edit-error", |t| t.contains("not valid JSON")).await;
        fill(b, "#edit-value", &format!("{{\"name\":\"{name}\"}}")).await;
        click(b, "#edit-save").await;
        wait_text(b, "#page-info", |t| {
            t.contains(&format!("{} items", if id == "a0001" { 1 } else { 2 }))
        })
        .await;
    }
    assert_eq!(
        api.get(&format!("{ITEMS}?key={}", q(&json!({"id": "a0002"}))))
            .await
            .body["value"],
        json!({"name": "Grace"})
    );
    shot(b, "03-store-two-items").await;

    // Edit one.
    click(b, "#items tr:first-child button.edit").await;
    fill(b, "#edit-value", "{\"name\":\"Ada Lovelace\"}").await;
    click(b, "#edit-save").await;
    wait_text(b, "#items", |t| t.contains("Ada Lovelace")).await;
    assert_eq!(
        api.get(&format!("{ITEMS}?key={}", q(&json!({"id": "a0001"}))))
            .await
            .body["value"],
        json!({"name": "Ada Lovelace"})
    );

    // Someone else saves while the editor is open: the page shows the conflict.
    click(b, "#items tr:first-child button.edit").await;
    let a = api
        .put(
            ITEMS,
            json!({"key": {"id": "a0001"}, "value": {"name": "changed elsewhere"}}),
        )
        .await;
    assert_eq!(a.status, 200);
    fill(b, "#edit-value", "{\"name\":\"mine\"}").await;
    click(b, "#edit-save").await;
    wait_text(b, "#conflict", |t| {
        t.contains("Someone else changed this item")
    })
    .await;
    shot(b, "04-edit-conflict").await;
    assert_eq!(
        api.get(&format!("{ITEMS}?key={}", q(&json!({"id": "a0001"}))))
            .await
            .body["value"],
        json!({"name": "changed elsewhere"})
    );
    click(b, "#edit-close").await;

    // Import a file of 1,000 items.
    let file = dir.join("people.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..1000 {
        writeln!(
            f,
            "{}",
            json!({"key": {"id": format!("b{i:04}")}, "value": {"n": i}})
        )
        .unwrap();
    }
    drop(f);
    b.find(Locator::Css("#import-file"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(b, "#import-go").await;
    wait_text(b, "#import-result", |t| t == "Imported 1000 items.").await;
    shot(b, "05-imported").await;

    // Page through all 1,002 items, 100 at a time, then back one page.
    b.find(Locator::Css("#f-limit"))
        .await
        .unwrap()
        .select_by_value("100")
        .await
        .unwrap();
    click(b, "#apply").await;
    wait_text(b, "#page-info", |t| t.starts_with("page 1 · 100 items")).await;
    let mut seen = rows(b).await;
    let mut page = 1;
    while b
        .find(Locator::Css("#next"))
        .await
        .unwrap()
        .is_enabled()
        .await
        .unwrap()
    {
        click(b, "#next").await;
        page += 1;
        let info = wait_text(b, "#page-info", |t| t.starts_with(&format!("page {page} "))).await;
        seen += rows(b).await;
        assert!(info.contains("items"), "{info}");
    }
    assert_eq!((page, seen), (11, 1002));
    shot(b, "06-last-page").await;
    click(b, "#prev").await;
    wait_text(b, "#page-info", |t| t.starts_with("page 10 · 100 items")).await;

    // Filter, then seek in descending order.
    fill(b, "#f-filter", "value.n>995").await;
    click(b, "#apply").await;
    wait_text(b, "#page-info", |t| {
        t.starts_with("page 1 · 4 items · 1002 examined")
    })
    .await;
    shot(b, "07-filter").await;
    fill(b, "#f-filter", "").await;
    fill(b, "#f-seek", "{\"id\":\"b0500\"}").await;
    click(b, "#f-desc").await;
    click(b, "#apply").await;
    wait_text(b, "#items tr:first-child", |t| t.contains("b0500")).await;
    wait_text(b, "#items tr:nth-child(2)", |t| t.contains("b0499")).await;
    shot(b, "08-seek-descending").await;

    // Delete one, with the confirmation.
    fill(b, "#f-seek", "").await;
    click(b, "#f-desc").await;
    fill(b, "#f-filter", "key.id=a0002").await;
    click(b, "#apply").await;
    wait_text(b, "#page-info", |t| t.contains("· 1 items")).await;
    click(b, "#items tr:first-child button.delete").await;
    click(b, "#items tr:first-child button.confirm-delete").await;
    wait_text(b, "#items", |t| t.contains("No items here.")).await;
    assert_eq!(
        api.get(&format!("{ITEMS}?key={}", q(&json!({"id": "a0002"}))))
            .await
            .status,
        404
    );

    // An integer beyond 2^53 survives an edit in the browser, digit for digit.
    let big = "12345678901234567890123";
    let a = api
        .send(
            "PUT",
            ITEMS,
            Some(format!(
                r#"{{"key":{{"id":"big"}},"value":{{"name":"Big Number","n":{big}}}}}"#
            )),
            &[],
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    fill(b, "#f-filter", "key.id=big").await;
    click(b, "#apply").await;
    wait_text(b, "#items", |t| t.contains(big)).await;
    click(b, "#items tr:first-child button.edit").await;
    let text = b
        .find(Locator::Css("#edit-value"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(text.contains(big), "{text}");
    fill(
        b,
        "#edit-value",
        &text.replace("Big Number", "Big Number, edited"),
    )
    .await;
    click(b, "#edit-save").await;
    wait_text(b, "#items", |t| t.contains("edited")).await;
    let got = api
        .get(&format!("{ITEMS}?key={}", q(&json!({"id": "big"}))))
        .await;
    assert!(got.text.contains(&format!("\"n\":{big}")), "{}", got.text);
    // The search box, once a text index exists.
    {
        let db = &s.manager.databases()[0].db;
        let tx = db.begin(sop::TxMode::ForWriting).unwrap();
        let index =
            sop_search::TextIndex::create(&tx, "people", sop_search::IndexConfig::new(&["name"]))
                .unwrap();
        let store = tx.open_json_store("people").unwrap();
        let (k, v) = store.get_item(&json!({"id": "big"})).unwrap().unwrap();
        index
            .update_json(&tx, sop_search::DocId::Str(k.to_string()), &v)
            .unwrap();
        tx.commit().unwrap();
    }
    b.refresh().await.unwrap();
    fill(b, "#search-q", "number").await;
    click(b, "#search-go").await;
    let hits = wait_text(b, "#search-hits", |t| t.contains("big")).await;
    assert!(hits.contains("Number"), "{hits}");
    shot(b, "09a-search").await;
    // A byte store: UTF-8 shown as text, other bytes as hex; add an item.
    let c = api
        .post(
            "/api/databases/main/stores",
            json!({"name": "blobs", "kind": "bytes"}),
        )
        .await;
    assert_eq!(c.status, 201);
    let bytes = "/api/databases/main/stores/blobs/bytes";
    api.put(
        bytes,
        json!({"key": "greeting", "value": "hello", "encoding": "utf8"}),
    )
    .await;
    api.put(
        bytes,
        json!({"key": "6b6579", "value": "00ff", "encoding": "hex"}),
    )
    .await;
    b.goto(&format!("{url}/#/db/main/store/blobs"))
        .await
        .unwrap();
    let t = wait_text(b, "#items", |t| t.contains("hello")).await;
    assert!(t.contains("00ff") && t.contains("key"), "{t}");
    b.find(Locator::Css("#b-mode"))
        .await
        .unwrap()
        .select_by_value("hex")
        .await
        .unwrap();
    wait_text(b, "#items", |t| t.contains("68656c6c6f")).await;
    click(b, "#add-item").await;
    fill(b, "#edit-key", "6e6577").await;
    fill(b, "#edit-value", "c0ffee").await;
    click(b, "#edit-save").await;
    wait_text(b, "#page-info", |t| t.contains("3 items")).await;
    shot(b, "09b-byte-store").await;
    let g = api.get(&format!("{bytes}?key=new&encoding=utf8")).await;
    assert_eq!(g.body["value"], json!(null), "c0ffee is not UTF-8");
    let g = api.get(&format!("{bytes}?key=6e6577&encoding=hex")).await;
    assert_eq!(g.body["value"], json!("c0ffee"));
    // A check job shows its progress, to 100%.
    b.goto(&format!("{url}/#/db/main")).await.unwrap();
    click(b, "#job-check").await;
    wait_text(b, "#job-out", |t| t.contains("done 100%")).await;
    b.goto(&format!("{url}/#/db/main/store/people"))
        .await
        .unwrap();
    wait_text(b, "#page-info", |t| t.starts_with("page 1")).await;

    // The export link, and the dashboard after all this.
    let href = b
        .find(Locator::Css("#export"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(href, "/api/databases/main/stores/people/export");
    click(b, "#nav-dashboard").await;
    wait_text(b, "#dash-dbs", |t| {
        t.contains("Cache hit rate") && t.contains("%")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await; // one chart point
    shot(b, "09-dashboard-after").await;

    // Phone width: the page still works, the sidebar folds away.
    b.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{url}/#/db/main/store/people"))
        .await
        .unwrap();
    wait_text(b, "#page-info", |t| t.starts_with("page 1")).await;
    shot(b, "10-phone-store").await;
    click(b, "#menu").await;
    assert!(!b
        .find(Locator::Css("#sidebar"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());

    // Log out: the page is the login form again, and the session is gone.
    b.set_window_size(1280, 900).await.unwrap();
    click(b, "#logout").await;
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#login-form"))
        .await
        .unwrap();
    wait_text(b, "#login", |t| t.contains("Log in")).await;
}
