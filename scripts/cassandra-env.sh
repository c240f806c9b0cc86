# Sourced by scripts: a private single-node Apache Cassandra (5.0, the jars from
# Maven Central, run on the installed JDK 17) on a free loopback port, for tests.
#
#   start_test_cassandra   starts it in the background (returns at once)
#   wait_test_cassandra    waits until it takes CQL connections; exports
#                          SOP_TEST_CASSANDRA=127.0.0.1:PORT (fails loudly)
#
# The jars are fetched once into $SOP_TEST_CACHE (default ~/.cache/sop-test);
# the data lives in a fresh temporary folder, removed when the calling shell
# exits, and the node is killed then (SIGKILL: its data is thrown away).
# Commit log in `batch` mode: a write is acknowledged only once fsynced, so a
# single test node keeps what it acknowledged through a kill.

SOP_CASSANDRA_VERSION=5.0.9

cassandra_java() {
  local j
  for j in "${SOP_CASSANDRA_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64; do
    if [ -n "$j" ] && [ -x "$j/bin/java" ]; then echo "$j/bin/java"; return 0; fi
  done
  if command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -q '"17\.'; then command -v java; return 0; fi
  echo "Cassandra 5.0 needs a JDK 17 (set SOP_CASSANDRA_JAVA_HOME)" >&2
  return 1
}

# The jars, once: Maven resolves cassandra-all and its runtime dependencies.
cassandra_jars() {
  local cache="${SOP_TEST_CACHE:-$HOME/.cache/sop-test}/cassandra-$SOP_CASSANDRA_VERSION"
  if [ ! -f "$cache/lib/cassandra-all-$SOP_CASSANDRA_VERSION.jar" ]; then
    command -v mvn >/dev/null 2>&1 || { echo "mvn is needed to fetch Cassandra" >&2; return 1; }
    mkdir -p "$cache"
    cat >"$cache/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sop.test</groupId>
  <artifactId>cassandra-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$SOP_CASSANDRA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    (cd "$cache" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=lib.part -DincludeScope=runtime) >&2 || return 1
    rm -rf "$cache/lib" && mv "$cache/lib.part" "$cache/lib"
  fi
  echo "$cache/lib"
}

# Start the node of folder $1 (its conf/ written by start_test_cassandra) with
# the jars in $2 and the java $3, in the background; its pid goes to $1/cassandra.pid.
launch_cassandra() {
  local dir=$1 lib=$2 java=$3
  # Cassandra's own JVM options for JDK 17 (conf/jvm17-server.options).
  nohup nice "$java" -Xms512m -Xmx512m -Xmn128m -Xss256k \
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m \
    -XX:+ExitOnOutOfMemoryError -Djdk.attach.allowAttachSelf=true \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
    --add-exports java.sql/java.sql=ALL-UNNAMED \
    --add-exports java.base/java.lang.ref=ALL-UNNAMED \
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED \
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED \
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED \
    --add-opens java.base/java.lang.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED \
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true \
    -Dcassandra.config="file://$dir/conf/cassandra.yaml" \
    -Dlogback.configurationFile="$dir/conf/logback.xml" \
    -Dcassandra.storagedir="$dir/data" \
    -Dcassandra-foreground=yes \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.ring_delay_ms=100 \
    -cp "$dir/conf:$lib/*" \
    org.apache.cassandra.service.CassandraDaemon >"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/cassandra.pid"
}

# The configuration of the node of folder $1 (conf/cassandra.yaml and
# conf/logback.xml; its data under $1/data): cluster name $2, listening on
# address $3, CQL port $4, storage port $5, seeds $6 (host:port,...), token $7.
# One token per node; commit log in `batch` mode (see the top of this file).
write_cassandra_conf() {
  local dir=$1 cluster=$2 listen=$3 port=$4 storage=$5 seeds=$6 token=$7
  mkdir -p "$dir/conf" "$dir/data"
  cat >"$dir/conf/cassandra.yaml" <<EOF
cluster_name: $cluster
num_tokens: 1
initial_token: $token
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
listen_address: $listen
rpc_address: $listen
storage_port: $storage
native_transport_port: $port
start_native_transport: true
commitlog_sync: batch
data_file_directories:
  - $dir/data/data
commitlog_directory: $dir/data/commitlog
saved_caches_directory: $dir/data/saved_caches
hints_directory: $dir/data/hints
cdc_raw_directory: $dir/data/cdc_raw
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
concurrent_compactors: 1
EOF
  cat >"$dir/conf/logback.xml" <<EOF
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

start_test_cassandra() {
  local java lib port storage dir
  java="$(cassandra_java)" || return 1
  lib="$(cassandra_jars)" || return 1
  # Two free ports, each chosen by the kernel (the CQL port, and the storage
  # port, which must be free too: port + 1 was once taken by another process).
  read -r port storage < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
  dir="$(mktemp -d)"
  write_cassandra_conf "$dir" sop-test 127.0.0.1 "$port" "$storage" "127.0.0.1:$storage" 0
  printf '%s\n%s\n' "$lib" "$java" >"$dir/launch.args"
  launch_cassandra "$dir" "$lib" "$java"
  SOP_TEST_CASSANDRA_PID=$(cat "$dir/cassandra.pid")
  SOP_TEST_CASSANDRA_DIR=$dir
  export SOP_TEST_CASSANDRA_DIR
  SOP_TEST_CASSANDRA_PORT=$port
  # Chain onto the caller's EXIT trap (the Redis helper sets one too).
  local prev
  prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
  # The pid file, not the pid: a test may restart the node (restart_test_cassandra).
  trap "kill -9 \$(cat '$dir/cassandra.pid' 2>/dev/null) 2>/dev/null; rm -rf '$dir'; $prev" EXIT
  echo "== test Cassandra starting on 127.0.0.1:$port (pid $SOP_TEST_CASSANDRA_PID, data $dir)"
}

wait_test_cassandra() {
  local i=0
  until grep -q "Startup complete" "$SOP_TEST_CASSANDRA_DIR/system.log" 2>/dev/null; do
    i=$((i + 1))
    if ! kill -0 "$SOP_TEST_CASSANDRA_PID" 2>/dev/null || [ $i -gt 1200 ]; then
      echo "the test Cassandra did not start; the end of its log:" >&2
      tail -n 40 "$SOP_TEST_CASSANDRA_DIR/system.log" "$SOP_TEST_CASSANDRA_DIR/stdout.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  SOP_TEST_CASSANDRA="127.0.0.1:$SOP_TEST_CASSANDRA_PORT"
  export SOP_TEST_CASSANDRA
  echo "== test Cassandra at $SOP_TEST_CASSANDRA"
}

# For tests: kill the node of $SOP_TEST_CASSANDRA_DIR at once (SIGKILL, as a
# crash or a power cut of its host would) and start it again on the same data
# and port; returns once it takes connections again.
restart_test_cassandra() {
  local dir=${SOP_TEST_CASSANDRA_DIR:?SOP_TEST_CASSANDRA_DIR is not set} before i=0 lib java
  kill -9 "$(cat "$dir/cassandra.pid")" 2>/dev/null || true
  while kill -0 "$(cat "$dir/cassandra.pid")" 2>/dev/null; do sleep 0.1; done
  before=$(grep -c "Startup complete" "$dir/system.log" 2>/dev/null || true)
  { read -r lib; read -r java; } <"$dir/launch.args"
  launch_cassandra "$dir" "$lib" "$java"
  until [ "$(grep -c "Startup complete" "$dir/system.log" 2>/dev/null || true)" -gt "$before" ]; do
    i=$((i + 1))
    if ! kill -0 "$(cat "$dir/cassandra.pid")" 2>/dev/null || [ $i -gt 1200 ]; then
      echo "the test Cassandra did not restart; the end of its log:" >&2
      tail -n 40 "$dir/system.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  echo "== test Cassandra restarted (pid $(cat "$dir/cassandra.pid"))"
}
