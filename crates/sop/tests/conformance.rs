//! The conformance suite (`sop_testkit::conformance`) on every commit-log
//! backend this crate has. A new backend adds one line here.

sop_testkit::conformance_suite!(shared_folder, sop_testkit::conformance::SharedFolder);
sop_testkit::conformance_suite!(
    exclusive_journal,
    sop_testkit::conformance::ExclusiveJournal::small()
);
sop_testkit::conformance_suite!(
    exclusive_journal_packed,
    sop_testkit::conformance::ExclusiveJournal::packed()
);
sop_testkit::conformance_suite!(
    cassandra_registry,
    sop_testkit::conformance::Cassandra::from_env()
);
sop_testkit::conformance_suite!(
    object_store,
    sop_testkit::conformance::ObjectStoreBackend::in_memory()
);
