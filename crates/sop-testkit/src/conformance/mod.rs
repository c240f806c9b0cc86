//! One conformance suite for every commit-log backend: the crash sweeps (a
//! power cut, and an I/O error, at every step of a commit and of the recovery
//! that follows), the forced interleavings of the commit protocol, and the
//! model test (random operations against a `BTreeMap`, with reopenings).
//!
//! A backend is a way to open a database ([`Backend::options`]). Running the
//! whole suite on one is one line in a test file:
//!
//! ```text
//! sop_testkit::conformance_suite!(shared_folder, sop_testkit::conformance::SharedFolder);
//! ```
//!
//! which expands to a module of `#[test]` functions, one per test of the suite
//! (TiKV's `engine_traits` tests are the model). The crash sweeps run on the
//! simulated file system (`SimVfs`), the others on real files.

pub mod crash;
pub mod interleavings;
pub mod model;

use sop::DbOptions;

/// How the suite opens a database of one backend.
pub trait Backend {
    /// A short name, for failure messages.
    fn name(&self) -> &str;

    /// `base` (the test's own settings) with what selects and configures this
    /// backend.
    fn options(&self, base: DbOptions) -> DbOptions;

    /// Whether a commit that returned Ok may leave its handle poisoned: the
    /// log moves records after the commit point, in the committing thread, and
    /// a failure there stops the handle (the commit itself is durable).
    fn may_poison_after_ok(&self) -> bool {
        false
    }

    /// The suite is about to make a new database (a new folder or a new
    /// simulated disk): a backend whose data lives outside the folder starts a
    /// new place for it, so that the new database does not meet an old one's.
    fn fresh_database(&self) {}

    /// How many big-value blobs store `store` of the database at `db` has.
    fn count_blobs(&self, db: &std::path::Path, store: u64) -> usize {
        std::fs::read_dir(db.join("blobs").join(format!("{store:016x}"))).map_or(0, |d| d.count())
    }

    /// Whether a failure after the commit point is settled inside the commit
    /// (an object store sends the record again, create-only, and reads back a
    /// 412), so that it never surfaces as `CommitOutcomeUnknown`.
    fn settles_lost_replies(&self) -> bool {
        false
    }
}

mod objects;
pub use objects::ObjectStoreBackend;

/// A folder any number of processes share: a record file per commit, published
/// by an exclusive hard link, made durable by a directory sync.
pub struct SharedFolder;

impl Backend for SharedFolder {
    fn name(&self) -> &str {
        "shared folder"
    }
    fn options(&self, base: DbOptions) -> DbOptions {
        DbOptions {
            exclusive: false,
            ..base
        }
    }
}

/// A folder one process has alone, with commits through the journal. The
/// journal's size decides what a commit does: at 2 KiB every record here is too
/// big to copy into it (its own file and a marker frame, and a rotation at each
/// commit); at 24 KiB the records are kept in the journal (packed) and written
/// out when it rotates, so cuts land in the write-out too.
pub struct ExclusiveJournal {
    /// `DbOptions::journal_bytes`.
    pub journal_bytes: u64,
}

impl ExclusiveJournal {
    /// Records as files of their own, a rotation at every commit.
    pub fn small() -> Self {
        ExclusiveJournal {
            journal_bytes: 2 << 10,
        }
    }
    /// Records kept in the journal until it rotates.
    pub fn packed() -> Self {
        ExclusiveJournal {
            journal_bytes: 24 << 10,
        }
    }
}

impl Backend for ExclusiveJournal {
    fn name(&self) -> &str {
        "exclusive journal"
    }
    fn options(&self, base: DbOptions) -> DbOptions {
        DbOptions {
            exclusive: true,
            journal_bytes: self.journal_bytes,
            ..base
        }
    }
    fn may_poison_after_ok(&self) -> bool {
        true
    }
}

/// The registry and the commit point on a real Apache Cassandra node (the
/// folder keeps the record files): `SOP_TEST_CASSANDRA` (`host:port`, set by
/// scripts/test.sh, which starts a private node) says where. Every database
/// has its own id, so its rows are its own partitions of one keyspace.
pub struct Cassandra {
    /// Contact points, `host:port`.
    pub hosts: Vec<String>,
    /// The keyspace the tests share.
    pub keyspace: String,
}

impl Cassandra {
    /// The node `SOP_TEST_CASSANDRA` names. Panics without it: a test that
    /// needs Cassandra fails loudly rather than skip.
    pub fn from_env() -> Self {
        let hosts = std::env::var("SOP_TEST_CASSANDRA").unwrap_or_else(|_| {
            panic!(
                "SOP_TEST_CASSANDRA is not set: run the tests through scripts/test.sh, \
                 which starts a private Cassandra node, or point it at one (host:port)"
            )
        });
        Cassandra {
            hosts: hosts.split(',').map(str::to_string).collect(),
            keyspace: "sop_conformance".into(),
        }
    }
}

impl Backend for Cassandra {
    fn name(&self) -> &str {
        "cassandra registry"
    }
    fn options(&self, base: DbOptions) -> DbOptions {
        DbOptions {
            exclusive: false,
            registry: Some(sop::Registry::Cassandra(sop::CassandraRegistry::new(
                self.hosts.clone(),
                self.keyspace.clone(),
            ))),
            ..base
        }
    }
}

/// Run the whole conformance suite on a backend: `conformance_suite!(module_name,
/// backend_expression)` defines module `module_name` with one `#[test]` per
/// test of the suite.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn backend() -> impl $crate::conformance::Backend {
                $backend
            }
        #[test]
        fn crash_power_cut_at_every_step_of_a_commit() {
            $crate::conformance::crash::power_cut_at_every_step_of_a_commit(&backend())
        }
        #[test]
        fn crash_power_cut_during_recovery_is_harmless() {
            $crate::conformance::crash::power_cut_during_recovery_is_harmless(&backend())
        }
        #[test]
        fn crash_io_error_at_every_step_of_a_commit() {
            $crate::conformance::crash::io_error_at_every_step_of_a_commit(&backend())
        }
        #[test]
        fn interleavings_same_key_read_modify_write_never_loses_an_update() {
            $crate::conformance::interleavings::same_key_read_modify_write_never_loses_an_update(&backend())
        }
        #[test]
        fn interleavings_same_key_blind_writes_apply_in_commit_order_and_keep_the_other_changes() {
            $crate::conformance::interleavings::same_key_blind_writes_apply_in_commit_order_and_keep_the_other_changes(&backend())
        }
        #[test]
        fn interleavings_same_key_added_twice_to_a_unique_store() {
            $crate::conformance::interleavings::same_key_added_twice_to_a_unique_store(&backend())
        }
        #[test]
        fn interleavings_update_of_a_key_removed_meanwhile_fails() {
            $crate::conformance::interleavings::update_of_a_key_removed_meanwhile_fails(&backend())
        }
        #[test]
        fn interleavings_write_skew_second_committer_fails() {
            $crate::conformance::interleavings::write_skew_second_committer_fails(&backend())
        }
        #[test]
        fn interleavings_mutual_read_modify_writes_exactly_one_commits() {
            $crate::conformance::interleavings::mutual_read_modify_writes_exactly_one_commits(&backend())
        }
        #[test]
        fn interleavings_mutual_blind_writes_are_atomic() {
            $crate::conformance::interleavings::mutual_blind_writes_are_atomic(&backend())
        }
        #[test]
        fn interleavings_range_scan_then_insert_into_range_fails() {
            $crate::conformance::interleavings::range_scan_then_insert_into_range_fails(&backend())
        }
        #[test]
        fn interleavings_range_scan_then_remove_or_update_in_range_fails() {
            $crate::conformance::interleavings::range_scan_then_remove_or_update_in_range_fails(&backend())
        }
        #[test]
        fn interleavings_range_scan_then_change_far_outside_range_commits() {
            $crate::conformance::interleavings::range_scan_then_change_far_outside_range_commits(&backend())
        }
        #[test]
        fn interleavings_absent_key_read_then_insert_fails() {
            $crate::conformance::interleavings::absent_key_read_then_insert_fails(&backend())
        }
        #[test]
        fn interleavings_first_and_last_then_new_extreme_fails() {
            $crate::conformance::interleavings::first_and_last_then_new_extreme_fails(&backend())
        }
        #[test]
        fn interleavings_store_create_race_one_fails() {
            $crate::conformance::interleavings::store_create_race_one_fails(&backend())
        }
        #[test]
        fn interleavings_store_open_or_create_race_loser_retries_into_the_winners_store() {
            $crate::conformance::interleavings::store_open_or_create_race_loser_retries_into_the_winners_store(&backend())
        }
        #[test]
        fn interleavings_creating_different_stores_concurrently_both_commit() {
            $crate::conformance::interleavings::creating_different_stores_concurrently_both_commit(&backend())
        }
        #[test]
        fn interleavings_drop_racing_a_writer_writer_fails() {
            $crate::conformance::interleavings::drop_racing_a_writer_writer_fails(&backend())
        }
        #[test]
        fn interleavings_drop_and_recreate_racing_a_writer() {
            $crate::conformance::interleavings::drop_and_recreate_racing_a_writer(&backend())
        }
        #[test]
        fn interleavings_reader_of_a_dropped_store_fails() {
            $crate::conformance::interleavings::reader_of_a_dropped_store_fails(&backend())
        }
        #[test]
        fn interleavings_writer_then_dropper_begun_earlier_leaves_no_resurrected_items() {
            $crate::conformance::interleavings::writer_then_dropper_begun_earlier_leaves_no_resurrected_items(&backend())
        }
        #[test]
        fn interleavings_count_read_then_concurrent_insert_fails() {
            $crate::conformance::interleavings::count_read_then_concurrent_insert_fails(&backend())
        }
        #[test]
        fn interleavings_count_read_then_concurrent_value_update_commits() {
            $crate::conformance::interleavings::count_read_then_concurrent_value_update_commits(&backend())
        }
        #[test]
        fn interleavings_readers_keep_their_snapshot_across_splits_and_merges() {
            $crate::conformance::interleavings::readers_keep_their_snapshot_across_splits_and_merges(&backend())
        }
        #[test]
        fn interleavings_no_check_reader_still_reads_a_store_dropped_after_it_began() {
            $crate::conformance::interleavings::no_check_reader_still_reads_a_store_dropped_after_it_began(&backend())
        }
        #[test]
        fn interleavings_stale_writer_of_an_untouched_key_commits_after_50_commits() {
            $crate::conformance::interleavings::stale_writer_of_an_untouched_key_commits_after_50_commits(&backend())
        }
        #[test]
        fn interleavings_stale_writer_that_read_a_changed_key_fails() {
            $crate::conformance::interleavings::stale_writer_that_read_a_changed_key_fails(&backend())
        }
        #[test]
        fn interleavings_absent_store_then_created_fails() {
            $crate::conformance::interleavings::absent_store_then_created_fails(&backend())
        }
        #[test]
        fn interleavings_two_droppers_one_fails() {
            $crate::conformance::interleavings::two_droppers_one_fails(&backend())
        }
        #[test]
        fn interleavings_merged_commits_keep_values_in_every_placement() {
            $crate::conformance::interleavings::merged_commits_keep_values_in_every_placement(&backend())
        }
        #[test]
        fn interleavings_oversized_transaction_fails_instead_of_merging() {
            $crate::conformance::interleavings::oversized_transaction_fails_instead_of_merging(&backend())
        }
        #[test]
        fn interleavings_cursor_writes_replayed_over_a_changed_tree() {
            $crate::conformance::interleavings::cursor_writes_replayed_over_a_changed_tree(&backend())
        }
        #[test]
        fn interleavings_error_after_the_commit_point_never_leaves_a_dangling_value() {
            $crate::conformance::interleavings::error_after_the_commit_point_never_leaves_a_dangling_value(&backend())
        }
        #[test]
        fn model_matches_model_small_keyspace() {
            $crate::conformance::model::matches_model_small_keyspace(&backend())
        }
        #[test]
        fn model_matches_model_wide_keyspace() {
            $crate::conformance::model::matches_model_wide_keyspace(&backend())
        }
        #[test]
        fn model_past_failures() {
            $crate::conformance::model::past_failures(&backend())
        }
        #[test]
        fn model_big_slot_length_many_items() {
            $crate::conformance::model::big_slot_length_many_items(&backend())
        }
        }
    };
}
