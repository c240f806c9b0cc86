# Sourced by scripts: make sure redis-server exists and start a private instance
# on a free loopback port. Exports SOP_TEST_REDIS_URL and SOP_REDIS_SERVER; the
# instance stops when the calling shell exits.
ensure_redis_server() {
  if ! command -v redis-server >/dev/null 2>&1; then
    bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" redis-server || true
  fi
  command -v redis-server >/dev/null 2>&1 || { echo "redis-server could not be installed" >&2; return 1; }
  SOP_REDIS_SERVER="$(command -v redis-server)"
  export SOP_REDIS_SERVER
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_test_redis() {
  ensure_redis_server || return 1
  local port dir
  port="$(free_port)"
  dir="$(mktemp -d)"
  "$SOP_REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --protected-mode yes --maxmemory 512mb --maxmemory-policy allkeys-lru --logfile "$dir/redis.log" &
  SOP_TEST_REDIS_PID=$!
  trap 'kill "$SOP_TEST_REDIS_PID" 2>/dev/null; wait "$SOP_TEST_REDIS_PID" 2>/dev/null; rm -rf "'"$dir"'"' EXIT
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      SOP_TEST_REDIS_URL="redis://127.0.0.1:$port/"
      export SOP_TEST_REDIS_URL
      echo "== test Redis at $SOP_TEST_REDIS_URL (pid $SOP_TEST_REDIS_PID)"
      return 0
    fi
    sleep 0.1
  done
  echo "the test Redis did not start; its log:" >&2
  cat "$dir/redis.log" >&2 || true
  return 1
}
