# Sourced by scripts: make sure this machine can mount the tests' FUSE file system
# (crates/sop-cutfs). As root with CAP_SYS_ADMIN the tests mount with mount(2) and
# need only /dev/fuse; otherwise they go through fusermount3 (Debian package
# fuse3), installed here. The cutfs tests fail, never skip, when FUSE cannot mount.
ensure_fuse() {
  if [ ! -e /dev/fuse ]; then
    modprobe fuse 2>/dev/null || true
  fi
  if [ ! -e /dev/fuse ]; then
    echo "/dev/fuse is missing: the cutfs tests (crates/sop-cutfs) need FUSE (modprobe fuse, or a container with /dev/fuse)" >&2
    return 1
  fi
  local capeff
  capeff="$(awk '/^CapEff/ {print $2}' /proc/self/status 2>/dev/null || echo 0)"
  if [ "$(id -u)" = 0 ] && [ $(( (0x${capeff:-0} >> 21) & 1 )) = 1 ]; then
    return 0 # mount(2) works: no helper needed
  fi
  if ! command -v fusermount3 >/dev/null 2>&1; then
    bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" fuse3 || true
  fi
  command -v fusermount3 >/dev/null 2>&1 || { echo "fusermount3 could not be installed" >&2; return 1; }
}
