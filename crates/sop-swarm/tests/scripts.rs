//! Scripts: every call of the API a script sees, the sandbox's refusals, the
//! limits (an endless loop and a memory hog are stopped and leave nothing
//! behind), and a conflict running the script again.

use serde_json::{json, Value};
use sop::{Database, DbOptions, TxMode};
use sop_swarm::{api, scripts, Grant, Grants, Limits, Swarm, SwarmError, SwarmOptions};
use std::time::Duration;

fn swarm_with(dir: &tempfile::TempDir, limits: Limits) -> Swarm {
    let db = Database::open(dir.path().join("db"), DbOptions::default()).unwrap();
    Swarm::open(
        db,
        SwarmOptions {
            limits,
            ..SwarmOptions::default()
        },
    )
    .unwrap()
}

fn swarm(dir: &tempfile::TempDir) -> Swarm {
    swarm_with(dir, Limits::default())
}

fn run(s: &Swarm, name: &str, source: &str, args: Value) -> Result<Value, SwarmError> {
    s.put_script(name, source).unwrap();
    s.run_script(name, None, &args)
}

/// The items of JSON store `store`, or None if it does not exist.
fn items(s: &Swarm, store: &str) -> Option<Vec<(Value, Value)>> {
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    let st = match tx.open_json_store(store) {
        Ok(st) => st,
        Err(sop::Error::StoreNotFound(_)) => return None,
        Err(e) => panic!("{e}"),
    };
    let v = st.iter().unwrap().map(|i| i.unwrap()).collect();
    Some(v)
}

#[test]
fn the_counter_example_counts() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    let src = include_str!("../../../examples/scripts/counter.lua");
    s.put_script("counter", src).unwrap();
    let args = json!({"store": "counts", "key": "visits"});
    for want in 1..=3 {
        assert_eq!(s.run_script("counter", None, &args).unwrap(), json!(want));
    }
    assert_eq!(
        items(&s, "counts").unwrap(),
        vec![(json!("visits"), json!(3))]
    );
}

#[test]
fn every_api_call_from_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("noop", "return 1").unwrap();
    let src = r#"
        local args = ...
        local out = {}
        out.created = sop.ensure_store("people", {key_spec = "last,age:desc"})
        out.again = sop.ensure_store("people")
        out.exists = sop.store_exists("people")
        out.missing = sop.store_exists("nope")
        sop.create_store("dups", {unique = false})
        out.dup1 = sop.put("dups", 1, "a")
        out.dup2 = sop.put("dups", 1, "b")
        out.put_new = sop.put("people", {last = "Lovelace", age = 36}, {first = "Ada", langs = {"en", "fr"}})
        out.put_again = sop.put("people", {last = "Lovelace", age = 36}, {first = "Ada", langs = {"en", "fr"}})
        sop.put("people", {last = "Hopper", age = 85}, {first = "Grace", nothing = sop.null})
        sop.put("people", {last = "Lovelace", age = 60}, {first = "Byron"})
        out.get = sop.get("people", {last = "Hopper", age = 85})
        out.get_missing = sop.get("people", {last = "Nobody", age = 1}) == nil
        out.count = sop.count("people")
        local r = sop.range("people", {from = {last = "L"}, to = {last = "M"}})
        out.range = r
        out.range_desc_first = sop.range("people", {desc = true, limit = 1})[1].key
        out.removed = sop.remove("people", {last = "Hopper", age = 85})
        out.removed_again = sop.remove("people", {last = "Hopper", age = 85})
        out.count_after = sop.count("people")
        out.dups = sop.count("dups")
        out.job = sop.submit("noop", {x = args.x}, {key = "k1", priority = 5})
        out.job_again = sop.submit("noop", {x = 2}, {key = "k1"})
        out.job_id = sop.job_id == nil
        out.now = sop.now_ms() > 0
        out.float = 1.5
        out.empty = {}
        sop.log("logged", 1)
        print("printed")
        return out
    "#;
    let out = run(&s, "all", src, json!({"x": 7})).unwrap();
    assert_eq!(out["created"], json!(true));
    assert_eq!(out["again"], json!(false));
    assert_eq!(out["exists"], json!(true));
    assert_eq!(out["missing"], json!(false));
    assert_eq!(out["dup1"], json!(true));
    assert_eq!(out["dup2"], json!(true));
    assert_eq!(out["put_new"], json!(true));
    assert_eq!(out["put_again"], json!(false));
    assert_eq!(out["get"], json!({"first": "Grace", "nothing": null}));
    assert_eq!(out["get_missing"], json!(true));
    assert_eq!(out["count"], json!(3));
    // Lovelace by age descending.
    assert_eq!(
        out["range"],
        json!([
            {"key": {"last": "Lovelace", "age": 60}, "value": {"first": "Byron"}},
            {"key": {"last": "Lovelace", "age": 36}, "value": {"first": "Ada", "langs": ["en", "fr"]}}
        ])
    );
    assert_eq!(
        out["range_desc_first"],
        json!({"last": "Lovelace", "age": 36})
    );
    assert_eq!(out["removed"], json!(true));
    assert_eq!(out["removed_again"], json!(false));
    assert_eq!(out["count_after"], json!(2));
    assert_eq!(out["dups"], json!(2));
    assert_eq!(
        out["job"], out["job_again"],
        "one job for one idempotency key"
    );
    assert_eq!(out["job_id"], json!(true));
    assert_eq!(out["now"], json!(true));
    assert_eq!(out["float"], json!(1.5));
    assert_eq!(out["empty"], json!({}));
    // Committed: the stores and the job are there.
    assert_eq!(items(&s, "people").unwrap().len(), 2);
    let job = s.job(out["job"].as_str().unwrap()).unwrap();
    assert_eq!(job.script, "noop");
    assert_eq!(job.args, json!({"x": 7}));
    assert_eq!(job.priority, 5);
}

#[test]
fn a_failed_script_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    let src = r#"
        sop.ensure_store("t")
        sop.put("t", 1, 1)
        local function deeper() error("it broke") end
        deeper()
    "#;
    match run(&s, "broken", src, json!(null)) {
        Err(SwarmError::Script(m)) => {
            assert!(m.contains("it broke"), "{m}");
            assert!(m.contains("stack traceback"), "the stack: {m}");
            assert!(m.contains("broken:4"), "the line: {m}");
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    assert_eq!(items(&s, "t"), None, "the store was never made");
}

#[test]
fn the_sandbox_refuses_files_network_processes_and_debug() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    for (what, src) in [
        ("io", "return io.open('/etc/passwd')"),
        ("os.execute", "return os.execute('true')"),
        ("os.remove", "return os.remove('/tmp/x')"),
        ("os.getenv", "return os.getenv('HOME')"),
        ("require", "return require('socket')"),
        ("package", "return package.loadlib('libc.so.6', 'system')"),
        ("load", "return load('return 1')()"),
        ("loadfile", "return loadfile('/etc/passwd')"),
        ("dofile", "return dofile('/etc/passwd')"),
        ("debug", "return debug.getinfo(1)"),
        ("collectgarbage", "return collectgarbage('count')"),
        ("system store", "return sop.get('_swarm.jobs', 'x')"),
        ("system store write", "return sop.put('_swarm.queue', 1, 1)"),
    ] {
        match run(&s, "evil", src, json!(null)) {
            Err(SwarmError::Script(m)) => assert!(
                m.contains("nil value") || m.contains("swarm's own stores"),
                "{what}: {m}"
            ),
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    // What is there: os.time and os.clock only.
    let v = run(
        &s,
        "ok",
        "return {os.time() > 0, os.clock() >= 0, string.rep('a', 3)}",
        json!(null),
    )
    .unwrap();
    assert_eq!(v, json!([true, true, "aaa"]));
    // Bytecode does not load.
    let bytecode = "\x1bLua\x54\x00";
    assert!(s.put_script("bc", bytecode).is_err());
}

fn small_limits() -> Limits {
    Limits {
        instructions: 5_000_000,
        memory: 8 << 20,
        time: Duration::from_secs(20),
    }
}

#[test]
fn an_endless_loop_is_stopped_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm_with(&dir, small_limits());
    s.put_script("prep", "sop.ensure_store('t'); sop.put('t', 'k', 1)")
        .unwrap();
    s.run_script("prep", None, &json!(null)).unwrap();
    for (what, src) in [
        ("plain", "sop.put('t', 'k', 2); sop.put('t', 'other', 1); while true do end"),
        // Catching the limit's error does not help: it comes back.
        (
            "pcall",
            "sop.put('t', 'k', 2); while true do pcall(function() while true do end end) end",
        ),
        (
            "coroutine",
            "sop.put('t', 'k', 2); local co = coroutine.wrap(function() while true do end end); co()",
        ),
    ] {
        match run(&s, "spin", src, json!(null)) {
            Err(SwarmError::Limit(m)) => assert!(m.contains("instruction limit"), "{what}: {m}"),
            other => panic!("{what}: expected the instruction limit, got {other:?}"),
        }
        assert_eq!(
            items(&s, "t").unwrap(),
            vec![(json!("k"), json!(1))],
            "{what}: nothing of the stopped run is kept"
        );
    }
}

#[test]
fn a_time_limit_stops_a_slow_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm_with(
        &dir,
        Limits {
            instructions: u64::MAX,
            memory: 8 << 20,
            time: Duration::from_millis(200),
        },
    );
    match run(&s, "slow", "while true do end", json!(null)) {
        Err(SwarmError::Limit(m)) => assert!(m.contains("time limit"), "{m}"),
        other => panic!("expected the time limit, got {other:?}"),
    }
}

#[test]
fn a_memory_hog_is_stopped_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm_with(&dir, small_limits());
    for (what, src) in [
        (
            "table",
            "sop.ensure_store('t'); sop.put('t', 1, 1); local t = {} for i = 1, 1e9 do t[i] = i end",
        ),
        (
            "string",
            "sop.ensure_store('t'); sop.put('t', 1, 1); local s = string.rep('x', 64 * 1024 * 1024)",
        ),
    ] {
        match run(&s, "hog", src, json!(null)) {
            Err(SwarmError::Limit(m)) => assert!(m.contains("memory limit"), "{what}: {m}"),
            other => panic!("{what}: expected the memory limit, got {other:?}"),
        }
        assert_eq!(items(&s, "t"), None, "{what}: nothing kept");
    }
    // The swarm goes on working after it.
    assert_eq!(
        run(&s, "fine", "return 2 + 2", json!(null)).unwrap(),
        json!(4)
    );
}

#[test]
fn a_conflict_runs_the_script_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    let src = include_str!("../../../examples/scripts/counter.lua");
    s.put_script("counter", src).unwrap();
    let args = json!({"store": "c", "key": "n"});
    s.run_script("counter", None, &args).unwrap();
    // The first run is overtaken by another commit to the same key before it
    // commits: its commit conflicts, and it runs again from the start.
    let runs = std::cell::Cell::new(0);
    let v = s
        .write(|tx| {
            runs.set(runs.get() + 1);
            let script = scripts::get(tx, "counter", None)?;
            let v = api::run(tx, &script, &args, &Limits::default(), None)?;
            if runs.get() == 1 {
                s.run_script("counter", None, &args).unwrap();
            }
            Ok(v)
        })
        .unwrap();
    assert_eq!(runs.get(), 2, "ran again after the conflict");
    assert_eq!(v, json!(3), "the second run saw the other commit");
    assert_eq!(items(&s, "c").unwrap(), vec![(json!("n"), json!(3))]);
}

#[test]
fn concurrent_runs_of_one_counter_count_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script(
        "counter",
        include_str!("../../../examples/scripts/counter.lua"),
    )
    .unwrap();
    let args = json!({"store": "c", "key": "n"});
    s.run_script("counter", None, &args).unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for _ in 0..25 {
                    s.run_script("counter", None, &args).unwrap();
                }
            });
        }
    });
    assert_eq!(items(&s, "c").unwrap(), vec![(json!("n"), json!(101))]);
}

#[test]
fn script_versions_are_kept_until_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    assert_eq!(s.put_script("v", "return 1").unwrap(), 1);
    assert_eq!(s.put_script("v", "return 2").unwrap(), 2);
    assert_eq!(s.put_script("w", "return 'w'").unwrap(), 1);
    assert_eq!(s.run_script("v", None, &json!(null)).unwrap(), json!(2));
    assert_eq!(s.run_script("v", Some(1), &json!(null)).unwrap(), json!(1));
    assert_eq!(s.script("v", Some(1)).unwrap().source, "return 1");
    let list = s.scripts().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].name.as_str(), list[0].latest, list[0].versions),
        ("v", 2, 2)
    );
    assert!(matches!(
        s.put_script("bad", "return ("),
        Err(SwarmError::Script(_))
    ));
    assert!(matches!(
        s.put_script("a name", "return 1"),
        Err(SwarmError::Invalid(_))
    ));
    assert_eq!(s.delete_script("v", Some(2)).unwrap(), 1);
    assert_eq!(s.run_script("v", None, &json!(null)).unwrap(), json!(1));
    assert!(matches!(
        s.script("v", Some(2)),
        Err(SwarmError::VersionNotFound { .. })
    ));
    assert_eq!(s.delete_script("v", None).unwrap(), 1);
    assert!(matches!(
        s.script("v", None),
        Err(SwarmError::ScriptNotFound(_))
    ));
    assert!(matches!(
        s.delete_script("v", None),
        Err(SwarmError::ScriptNotFound(_))
    ));
}

#[test]
fn a_script_commits_in_steps_and_each_step_has_its_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    // 10 steps of about 60 ms against a time limit of 300 ms per step.
    let s = swarm_with(
        &dir,
        Limits {
            time: Duration::from_millis(300),
            ..Limits::default()
        },
    );
    let src = r#"
local i = sop.resumed or 0
sop.ensure_store("st")
while i < 10 do
  i = i + 1
  local t = os.clock()
  while os.clock() - t < 0.06 do end
  sop.put("st", i, i * i)
  sop.checkpoint(i)
end
return i
"#;
    assert_eq!(run(&s, "steps", src, json!(null)).unwrap(), json!(10));
    let got = items(&s, "st").unwrap();
    assert_eq!(got.len(), 10);
    assert!(got
        .iter()
        .all(|(k, v)| v.as_i64() == k.as_i64().map(|k| k * k)));

    // A step over its own limit still stops the run; the steps before it stay.
    let src = r#"
sop.ensure_store("st2")
sop.put("st2", 1, true)
sop.checkpoint(1)
while true do end
"#;
    let e = run(&s, "endless-step", src, json!(null)).unwrap_err();
    assert!(matches!(e, SwarmError::Limit(_)), "{e}");
    assert_eq!(items(&s, "st2").unwrap().len(), 1);
}

#[test]
fn checkpoint_is_refused_where_it_cannot_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    // From a coroutine the script started: refused, the run fails, nothing kept.
    let src = r#"
sop.ensure_store("co")
sop.put("co", 1, true)
local co = coroutine.create(function() sop.checkpoint(1) end)
local ok, err = coroutine.resume(co)
error(err)
"#;
    let e = run(&s, "co", src, json!(null)).unwrap_err();
    assert!(e.to_string().contains("not from a coroutine"), "{e}");
    assert_eq!(items(&s, "co"), None);
    // A bare yield in the body is an error too (not a checkpoint).
    let e = run(&s, "y", "coroutine.yield(1)", json!(null)).unwrap_err();
    assert!(e.to_string().contains("cannot yield"), "{e}");
    // The one-transaction runner refuses checkpoints.
    s.put_script("cp", "sop.checkpoint(1) return 1").unwrap();
    let script = s.script("cp", None).unwrap();
    let tx = s.db().begin(sop::TxMode::ForWriting).unwrap();
    let e = api::run(&tx, &script, &json!(null), &Limits::default(), None).unwrap_err();
    assert!(e.to_string().contains("one transaction"), "{e}");
}

/// A swarm on the database in `dir` whose runner allows `allow`.
fn swarm_allowing(dir: &tempfile::TempDir, allow: &[&str]) -> Swarm {
    let db = Database::open(dir.path().join("db"), DbOptions::default()).unwrap();
    let allow = allow.iter().map(|a| Grant::parse(a).unwrap()).collect();
    Swarm::open(
        db,
        SwarmOptions {
            allow: Grants(allow),
            ..SwarmOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn files_are_reached_only_through_a_manifest_the_runner_admits() {
    let dir = tempfile::tempdir().unwrap();
    let (inp, out, secret) = (
        dir.path().join("in"),
        dir.path().join("out"),
        dir.path().join("secret"),
    );
    for d in [&inp, &out, &secret] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(inp.join("a.txt"), "alpha").unwrap();
    std::fs::write(secret.join("key"), "do not read").unwrap();
    std::os::unix::fs::symlink(secret.join("key"), inp.join("link")).unwrap();
    std::os::unix::fs::symlink(secret.join("key"), out.join("trap")).unwrap();
    let (i, o, s_) = (inp.display(), out.display(), secret.display());
    let copy = format!(
        "--! read {i}\n--! write {o}\nlocal a = ...\n\
         local text = sop.read_file('{i}/a.txt')\n\
         sop.write_file('{o}/copy.txt', text .. '!')\n\
         return {{ text = text, names = sop.list_dir('{i}') }}\n"
    );

    // No allowance: the run fails before it starts, and says what to give.
    let s = swarm_allowing(&dir, &[]);
    s.put_script("copy", &copy).unwrap();
    let e = s.run_script("copy", None, &json!(null)).unwrap_err();
    assert!(matches!(e, SwarmError::NotAllowed(_)), "{e}");
    assert!(e.to_string().contains(&format!("--allow read={i}")), "{e}");
    // Read allowed where write is asked: still refused.
    let s = swarm_allowing(&dir, &[&format!("read={i}"), &format!("read={o}")]);
    let e = s.run_script("copy", None, &json!(null)).unwrap_err();
    assert!(e.to_string().contains("write access"), "{e}");
    drop(s);

    // Allowed (a parent folder covers a folder under it).
    let parent = dir.path().display().to_string();
    let s = swarm_allowing(&dir, &[&format!("read={parent}"), &format!("write={o}")]);
    let got = s.run_script("copy", None, &json!(null)).unwrap();
    assert_eq!(got["text"], json!("alpha"));
    assert_eq!(got["names"], json!(["a.txt", "link"]));
    assert_eq!(
        std::fs::read_to_string(out.join("copy.txt")).unwrap(),
        "alpha!"
    );

    // Every way out of the granted folders is refused.
    let head = format!("--! read {i}\n--! write {o}\n");
    for (what, body) in [
        ("outside", format!("return sop.read_file('{s_}/key')")),
        (
            "dot-dot",
            format!("return sop.read_file('{i}/../secret/key')"),
        ),
        ("a link out", format!("return sop.read_file('{i}/link')")),
        ("list outside", format!("return sop.list_dir('{s_}')")),
        ("write outside", format!("sop.write_file('{s_}/x', 'x')")),
        (
            "write where only read",
            format!("sop.write_file('{i}/x', 'x')"),
        ),
        (
            "write through a link",
            format!("sop.write_file('{o}/trap', 'x')"),
        ),
        ("relative", "return sop.read_file('a.txt')".to_string()),
    ] {
        s.put_script("escape", &format!("{head}{body}")).unwrap();
        let e = s.run_script("escape", None, &json!(null)).unwrap_err();
        assert!(matches!(e, SwarmError::Script(_)), "{what}: {e}");
    }
    assert_eq!(
        std::fs::read_to_string(secret.join("key")).unwrap(),
        "do not read"
    );
    assert!(!secret.join("x").exists() && !inp.join("x").exists());

    // Without a manifest there are no file functions at all.
    let e = run(
        &s,
        "plain",
        &format!("return sop.read_file('{i}/a.txt')"),
        json!(null),
    )
    .unwrap_err();
    assert!(e.to_string().contains("read_file"), "{e}");
    // A manifest that asks for anything but folders is refused when saved.
    for bad in [
        "--! net example.com:80\nreturn 1",
        "--! exec /bin/sh\nreturn 1",
    ] {
        let e = s.put_script("bad", bad).unwrap_err();
        assert!(e.to_string().contains("no grant"), "{e}");
    }
}
