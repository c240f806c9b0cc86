# Sourced by scripts: start a private S3-compatible server on a free loopback
# port, for the object store backend's tests. The server is moto's (PyPI
# `moto[server]`: in memory, enforces create-only conditional writes with 412),
# run through scripts/moto-server.py, which makes those writes atomic under
# concurrency as real S3 does; moto is installed into a cached virtual
# environment (~/.cache/sop-test/moto) when no Python here can import it. Exports SOP_TEST_S3_ENDPOINT (http://...),
# SOP_TEST_S3_BUCKET (created empty) and the AWS_* variables the client reads;
# the server stops when the calling shell exits.
ensure_moto_server() {
  if python3 -c 'import moto.server, flask' >/dev/null 2>&1; then
    SOP_MOTO_PYTHON="$(command -v python3)"
  else
    local venv="${SOP_TEST_CACHE:-$HOME/.cache/sop-test}/moto"
    if ! "$venv/bin/python" -c 'import moto.server, flask' >/dev/null 2>&1; then
      python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'moto[server]==5.*' || {
        echo "moto's S3 server could not be installed" >&2
        return 1
      }
    fi
    SOP_MOTO_PYTHON="$venv/bin/python"
  fi
  export SOP_MOTO_PYTHON
}

start_test_s3() {
  ensure_moto_server || return 1
  local port dir prev
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  dir="$(mktemp -d)"
  "$SOP_MOTO_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/moto-server.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  SOP_TEST_S3_PID=$!
  # Chain onto the caller's EXIT trap (Redis's and Cassandra's): `trap -p`
  # prints it shell-quoted, so let the shell unquote it.
  prev=""
  eval "set -- $(trap -p EXIT)"
  [ $# -ge 3 ] && prev="$3"
  # shellcheck disable=SC2064
  trap "kill $SOP_TEST_S3_PID 2>/dev/null; rm -rf \"$dir\"; $prev" EXIT
  export AWS_ACCESS_KEY_ID=sop-test AWS_SECRET_ACCESS_KEY=sop-test-secret AWS_REGION=us-east-1
  for _ in $(seq 1 100); do
    # moto makes a bucket on a plain PUT of its name.
    if curl -fsS -X PUT "http://127.0.0.1:$port/sop-test" >/dev/null 2>&1; then
      SOP_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
      SOP_TEST_S3_BUCKET=sop-test
      export SOP_TEST_S3_ENDPOINT SOP_TEST_S3_BUCKET
      echo "== test S3 server (moto) at $SOP_TEST_S3_ENDPOINT, bucket $SOP_TEST_S3_BUCKET (pid $SOP_TEST_S3_PID)"
      return 0
    fi
    sleep 0.1
  done
  echo "the test S3 server did not start; its log:" >&2
  cat "$dir/moto.log" >&2 || true
  return 1
}
