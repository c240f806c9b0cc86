#!/usr/bin/env bash
# Installs Debian packages quietly: our own short lines, and apt's output only when
# it fails. Usage: bash scripts/apt-install.sh PACKAGE...
set -euo pipefail
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== installing $* (Debian packages)"
if ! { "${sudo[@]}" apt-get update -q &&
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } >"$log" 2>&1; then
  echo "apt-get could not install $*; its output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "== installed $*"
