//! Clustered mode (Redis coordination): two database handles (as two processes
//! would be) index different documents in lock step; every commit merges, no
//! posting or document is lost. Starts its own redis-server (it must be installed).

use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use sop::{Coordination, Database, DbOptions, TxMode};
use sop_search::{IndexConfig, SearchOptions, TextIndex};

struct Redis(Child, u16);

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis(child, port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn clustered_indexers_of_different_documents_merge() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let opts = || DbOptions {
        coordination: Some(Coordination::Redis {
            url: format!("redis://127.0.0.1:{}/", redis.1),
        }),
        recovery_interval: None,
        ..Default::default()
    };
    let dbs = [
        Database::open(dir.path(), opts()).unwrap(),
        Database::open(dir.path(), opts()).unwrap(),
    ];
    let tx = dbs[0].begin(TxMode::ForWriting).unwrap();
    TextIndex::create(&tx, "ix", IndexConfig::new(&["body"])).unwrap();
    tx.commit().unwrap();
    let barrier = Barrier::new(2);
    let conflicts: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = dbs
            .iter()
            .enumerate()
            .map(|(w, db)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut conflicts = 0;
                    for b in 0..20u64 {
                        let tx = db.begin(TxMode::ForWriting).unwrap();
                        barrier.wait();
                        let index = TextIndex::open(&tx, "ix").unwrap();
                        let mut batch = index.batch(&tx).unwrap();
                        for i in 0..10u64 {
                            let id = w as u64 * 1000 + b * 10 + i;
                            batch
                                .add(id, &[("body", &format!("hot shared u{id}"))])
                                .unwrap();
                        }
                        barrier.wait();
                        match tx.commit() {
                            Ok(()) => {}
                            Err(e) if e.is_conflict() => conflicts += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    conflicts
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(conflicts, 0);
    let tx = dbs[1].begin(TxMode::NoCheck).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    let all = SearchOptions {
        k: 10_000,
        default_and: false,
    };
    assert_eq!(index.stats(&tx).unwrap().docs, 400);
    assert_eq!(index.search(&tx, "+hot +shared", &all).unwrap().len(), 400);
    let rep = index.verify(&tx).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.postings, 1200);
}
