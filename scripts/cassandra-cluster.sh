# Sourced by scripts: a private three-node Apache Cassandra cluster on
# 127.0.0.1, 127.0.0.2 and 127.0.0.3 (Linux routes all of 127/8 to loopback),
# each node a JVM of its own on the jars and JDK of scripts/cassandra-env.sh.
#
#   start_test_cassandra_cluster   starts the three nodes and waits until each
#                                  takes CQL connections and sees the other two
#                                  up; exports SOP_TEST_CASSANDRA_CLUSTER
#                                  (host:port,host:port,host:port) and
#                                  SOP_TEST_CASSANDRA_CLUSTER_DIR (node1..3/)
#   kill_cluster_node N            SIGKILL node N (1..3), as a crash of its host
#   start_cluster_node N           start node N again on its data; returns once
#                                  it takes connections and the running nodes
#                                  see it up
#   start_cluster_nodes_down       start every node that is not running
#
# About 3 x 0.7 GiB of memory and a minute of two cores to start. The data
# lives in a temporary folder, removed (and the nodes killed) when the calling
# shell exits. Commit logs in `batch` mode, as for the single test node.

# shellcheck source=scripts/cassandra-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/cassandra-env.sh"

# Tokens spread evenly over Murmur3's ring, one per node.
SOP_CLUSTER_TOKENS=(-9223372036854775808 -3074457345618258603 3074457345618258602)

# A port free on all three addresses.
cluster_free_port() {
  python3 -c 'import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    try:
        for h in ("127.0.0.2", "127.0.0.3"):
            b = socket.socket(); b.bind((h, p)); b.close()
    except OSError:
        a.close(); continue
    a.close(); print(p); break'
}

cluster_node_dir() { echo "$SOP_TEST_CASSANDRA_CLUSTER_DIR/node$1"; }

start_test_cassandra_cluster() {
  local java lib port storage root n dir prev
  java="$(cassandra_java)" || return 1
  lib="$(cassandra_jars)" || return 1
  port="$(cluster_free_port)"
  storage="$(cluster_free_port)"
  [ "$port" != "$storage" ] || storage="$(cluster_free_port)"
  root="$(mktemp -d)"
  SOP_TEST_CASSANDRA_CLUSTER_DIR=$root
  export SOP_TEST_CASSANDRA_CLUSTER_DIR
  for n in 1 2 3; do
    dir="$root/node$n"
    write_cassandra_conf "$dir" sop-test-cluster "127.0.0.$n" "$port" "$storage" \
      "127.0.0.1:$storage,127.0.0.2:$storage,127.0.0.3:$storage" "${SOP_CLUSTER_TOKENS[$((n - 1))]}"
    printf '%s\n%s\n' "$lib" "$java" >"$dir/launch.args"
  done
  prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
  trap "for n in 1 2 3; do kill -9 \$(cat '$root'/node\$n/cassandra.pid 2>/dev/null) 2>/dev/null; done; rm -rf '$root'; $prev" EXIT
  # Every node is a seed, so any one can start again while another is down;
  # one after the other, as a first start gossips with those already up.
  for n in 1 2 3; do
    launch_cassandra "$root/node$n" "$lib" "$java"
    cluster_wait_started "$n" 0 || return 1
  done
  SOP_TEST_CASSANDRA_CLUSTER="127.0.0.1:$port,127.0.0.2:$port,127.0.0.3:$port"
  export SOP_TEST_CASSANDRA_CLUSTER
  cluster_wait_all_up || return 1
  echo "== test Cassandra cluster at $SOP_TEST_CASSANDRA_CLUSTER (data $root)"
}

# How many times the node of folder $1 has logged its start (0 before its log exists).
cluster_starts() { cat "$1/system.log" 2>/dev/null | grep -c "Startup complete" || true; }

# Wait until node $1 has logged "Startup complete" more than $2 times.
cluster_wait_started() {
  local dir i=0
  dir="$(cluster_node_dir "$1")"
  until [ "$(cluster_starts "$dir")" -gt "$2" ]; do
    i=$((i + 1))
    if ! kill -0 "$(cat "$dir/cassandra.pid")" 2>/dev/null || [ $i -gt 1200 ]; then
      echo "cluster node $1 did not start; the end of its log:" >&2
      tail -n 40 "$dir/system.log" "$dir/stdout.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# Wait until every node has seen the two others come up (gossip).
cluster_wait_all_up() {
  local n m i=0 dir
  for n in 1 2 3; do
    dir="$(cluster_node_dir "$n")"
    for m in 1 2 3; do
      [ "$n" = "$m" ] && continue
      until grep -q "/127.0.0.$m:[0-9]* is now UP" "$dir/system.log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 1200 ]; then
          echo "cluster node $n never saw node $m up; the end of its log:" >&2
          tail -n 40 "$dir/system.log" >&2 || true
          return 1
        fi
        sleep 0.5
      done
    done
  done
}

kill_cluster_node() {
  local dir pid
  dir="$(cluster_node_dir "$1")"
  pid="$(cat "$dir/cassandra.pid")"
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "== cluster node $1 killed"
}

start_cluster_node() {
  local dir before lib java m i=0 seen=()
  dir="$(cluster_node_dir "$1")"
  before="$(cluster_starts "$dir")"
  # How often each other node has seen this one come up so far.
  for m in 1 2 3; do seen[m]="$(cluster_seen_up "$m" "$1")"; done
  { read -r lib; read -r java; } <"$dir/launch.args"
  launch_cassandra "$dir" "$lib" "$java"
  cluster_wait_started "$1" "$before" || return 1
  # Until the running nodes see it up, they still count it out of the quorum.
  for m in 1 2 3; do
    [ "$m" = "$1" ] && continue
    kill -0 "$(cat "$(cluster_node_dir "$m")/cassandra.pid")" 2>/dev/null || continue
    until [ "$(cluster_seen_up "$m" "$1")" -gt "${seen[m]}" ]; do
      i=$((i + 1))
      if [ $i -gt 600 ]; then
        echo "node $m never saw node $1 come up again" >&2
        return 1
      fi
      sleep 0.5
    done
  done
  echo "== cluster node $1 started again (pid $(cat "$dir/cassandra.pid"))"
}

# Start every node that is not running (after a test that stopped halfway).
start_cluster_nodes_down() {
  local n
  for n in 1 2 3; do
    kill -0 "$(cat "$(cluster_node_dir "$n")/cassandra.pid")" 2>/dev/null || start_cluster_node "$n" || return 1
  done
}

# How many times node $1 has logged node $2 coming up.
cluster_seen_up() {
  cat "$(cluster_node_dir "$1")/system.log" 2>/dev/null | grep -c "/127.0.0.$2:[0-9]* is now UP" || true
}
