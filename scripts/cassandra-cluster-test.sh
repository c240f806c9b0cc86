#!/usr/bin/env bash
# The Cassandra registry on a three-node cluster (replication factor 3, SERIAL
# claims, QUORUM reads and writes) while nodes are killed and started again:
# crates/sop/tests/cassandra_cluster.rs. Not part of scripts/test.sh (the
# cluster needs about 2 GiB and a minute or two of two cores to start, and the
# test takes minutes). Starts the cluster (scripts/cassandra-cluster.sh), runs
# the test, stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cassandra-cluster.sh
. scripts/cassandra-cluster.sh
if [ -z "${SOP_TEST_CASSANDRA_CLUSTER:-}" ]; then
  start_test_cassandra_cluster
fi
cargo test -p sop --features cluster-tests --locked --test cassandra_cluster -- --test-threads 1 --nocapture "$@"
