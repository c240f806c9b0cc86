//! What a build of `sop` without its optional features does with a database that
//! needs them. scripts/test.sh runs this file in both builds: the default one
//! (`redis` on) and `cargo test -p sop --no-default-features --test features`.

use sop::{Coordination, Database, DbOptions, Error};

/// A port nothing listens on: connecting fails at once.
const NOWHERE: &str = "redis://127.0.0.1:1/";

fn clustered_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Database::create_config(
        dir.path(),
        Coordination::Redis {
            url: NOWHERE.into(),
        },
    )
    .unwrap();
    dir
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn existing() -> DbOptions {
    DbOptions {
        create: false,
        recovery_interval: None,
        ..Default::default()
    }
}

/// Without the `redis` feature, opening a database whose sop.json says Clustered
/// fails with a typed error that names the feature, before the folder is touched.
/// With it, the same folder gets as far as connecting to Redis.
#[test]
fn a_clustered_database_needs_the_redis_feature() {
    let dir = clustered_folder();
    let before = names(dir.path());
    let e = Database::open(dir.path(), existing()).expect_err("opened");
    if cfg!(feature = "redis") {
        assert!(matches!(e, Error::Coordinator(_)), "{e:?}");
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    } else {
        assert!(
            matches!(
                e,
                Error::FeatureDisabled {
                    feature: "redis",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("cargo feature `redis`"), "{e}");
        assert_eq!(names(dir.path()), before, "the folder was changed");
    }
}

/// Switching a database to Clustered needs the feature too (the address is
/// checked before it is saved); a Standalone database works in every build.
#[test]
fn switching_to_clustered_needs_the_redis_feature() {
    let dir = tempfile::tempdir().unwrap();
    drop(Database::open(dir.path(), DbOptions::default()).unwrap());
    let e = Database::set_coordination(
        dir.path(),
        Coordination::Redis {
            url: NOWHERE.into(),
        },
    )
    .expect_err("switched");
    if cfg!(feature = "redis") {
        assert!(matches!(e, Error::Coordinator(_)), "{e:?}");
    } else {
        assert!(
            matches!(
                e,
                Error::FeatureDisabled {
                    feature: "redis",
                    ..
                }
            ),
            "{e:?}"
        );
    }
    let db = Database::open(dir.path(), existing()).unwrap();
    assert_eq!(db.config().coordination, Coordination::Standalone);
}
