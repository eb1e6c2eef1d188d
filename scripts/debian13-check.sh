#!/usr/bin/env bash
# debian13-check.sh [ROOT]: builds the package and runs its whole live suite
# (scripts/test) against hiredis 1.x inside a Debian 13 (trixie) root made
# with debootstrap, with this machine's Swift toolchain (/opt/swift) and its
# package mirror (/opt/swift-packages) bound in read-only (issue #27).
#
# ROOT defaults to .build-debian13 beside this script's repository (ignored by
# git). It is created on first use and reused afterwards; delete it to start
# over. The source is a fresh clone of the repository's committed HEAD in
# ROOT/src: uncommitted work is not tested. Every Swift build runs under
# `flock /tmp/swift-build.lock` (SWIFT_BUILD_LOCK to change it), one at a time
# with any other on the machine. Needs root (debootstrap, mount, chroot).
# Extra arguments after ROOT go to scripts/test (and so to `swift test`).
# DEBIAN13_CHECK_PATCH=FILE applies a diff (git apply) to the clone first, to
# try a fix without committing it; the summary line then names the patch.
# DEBIAN13_CHECK_HOST_REDIS=1 binds this machine's redis-server and redis-cli
# (read-only) over the root's, to tell hiredis 1.x apart from Debian 13's
# Redis 8 when something fails; the summary line names the Redis tested.
#
# Exits with the status of scripts/test (or of the step that failed before
# it) after one line: debian13-check: hiredis X.Y.Z, swift ..., scripts/test exit N
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${1:-$repo/.build-debian13}
[ $# -eq 0 ] || shift
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
lock=${SWIFT_BUILD_LOCK:-/tmp/swift-build.lock}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
toolchain=/opt/swift
packages_mirror=/opt/swift-packages
started=$(date +%s)

[ "$(id -u)" -eq 0 ] || { echo "debian13-check: run as root (debootstrap, mount, chroot)" >&2; exit 1; }
[ -x "$toolchain/usr/bin/swift" ] || { echo "debian13-check: no Swift toolchain at $toolchain" >&2; exit 1; }

log() { echo "debian13-check: $*" >&2; }

# What the package and its tests need (scripts/test checks them again), and
# what the toolchain needs to run: the libraries its binaries link (readelf
# -d over /opt/swift/usr/bin and lib: ncurses/tinfo, sqlite3, uuid, curl,
# libxml2, libedit, zlib, libstdc++) and what the compiler driver links with
# (gcc's crt files and libgcc/libstdc++ dev files, glibc's, binutils).
# Debian 13 names the 64-bit time_t transitions with t64 (libcurl4t64).
project_packages=(libhiredis-dev liblua5.1-0-dev libssl-dev pkg-config redis-server redis-tools
  lua-cjson lua-bitop openssl git ca-certificates procps util-linux python3)
toolchain_packages=(binutils gcc libc6-dev libgcc-14-dev libstdc++-14-dev zlib1g-dev
  libcurl4t64 libxml2 libedit2 libncurses6 libsqlite3-0 libuuid1 tzdata)

# A root still mounted (a run killed with SIGKILL) must not be touched: its
# /dev is the host's.
if awk -v root="$ROOT" '$2 == root || index($2, root "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
  log "something is still mounted under $ROOT (see /proc/mounts): unmount it first"
  exit 1
fi

# 1. The root. debootstrap removes ROOT/debootstrap when it succeeds: one
# still there is an unfinished root, made again from scratch.
if [ -d "$ROOT/debootstrap" ]; then
  log "$ROOT holds an unfinished debootstrap: starting it again"
  rm -rf --one-file-system "$ROOT"
  mkdir -p "$ROOT"
fi
if [ ! -f "$ROOT/etc/debian_version" ]; then
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  include=$(IFS=,; echo "${project_packages[*]},${toolchain_packages[*]}")
  log "debootstrap trixie into $ROOT"
  debootstrap --variant=minbase --include="$include" trixie "$ROOT" "$mirror"
fi
# apt inside the root (scripts/ensure-packages) needs the host's resolver.
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

# 2. Mounts, each undone on exit whatever happens (in reverse order).
mounted=()
cleanup() {
  local status=$? i pid root
  # Anything still running in the root (a test's redis-server) would keep
  # its mounts busy: end those processes, found by their root directory.
  for root in /proc/[0-9]*/root; do
    pid=${root#/proc/}; pid=${pid%/root}
    [ "$(readlink "$root" 2>/dev/null)" = "$ROOT" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || log "could not unmount ${mounted[$i]}"
  done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# $1 mount point under ROOT, the rest: mount's arguments before it.
mount_at() {
  local target=$ROOT$1
  shift
  [ -e "$target" ] || mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
mount_at /proc -t proc proc
mount_at /sys -t sysfs sysfs
mount_at /dev --bind /dev
mount_at /dev/pts --bind /dev/pts
mount_at "$toolchain" --bind -o ro "$toolchain"
mount_at "$packages_mirror" --bind -o ro "$packages_mirror"
if [ -n "${DEBIAN13_CHECK_HOST_REDIS:-}" ]; then
  for tool in redis-server redis-cli; do
    binary=$(readlink -f "$(command -v "$tool")")
    inside=$(chroot "$ROOT" readlink -f "/usr/bin/$tool")
    mount_at "$inside" --bind -o ro "$binary"
  done
fi

# Git inside: the same url.*.insteadOf rewrites as here (github.com to the
# local mirror), nothing else of the host's configuration.
: > "$ROOT/etc/gitconfig"
git config --file "$ROOT/etc/gitconfig" user.name "debian13-check"
git config --file "$ROOT/etc/gitconfig" user.email "debian13-check@localhost"
while read -r key value; do
  git config --file "$ROOT/etc/gitconfig" --add "$key" "$value"
done < <({ git config --system --get-regexp '^url\..*\.insteadof$' || true; git config --global --get-regexp '^url\..*\.insteadof$' || true; } | sort -u)

# The source: a fresh clone of the committed HEAD.
rm -rf "$ROOT/src"
git clone -q --no-hardlinks "$repo" "$ROOT/src"
commit=$(git -C "$ROOT/src" rev-parse --short HEAD)
if [ -n "${DEBIAN13_CHECK_PATCH:-}" ]; then
  git -C "$ROOT/src" apply --verbose "$(cd "$(dirname "$DEBIAN13_CHECK_PATCH")" && pwd)/$(basename "$DEBIAN13_CHECK_PATCH")"
  commit="$commit + $(basename "$DEBIAN13_CHECK_PATCH")"
fi
log "testing commit $commit"

# in_root COMMAND...: runs it in ROOT/src with a clean environment.
in_root=(chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}"
  PATH="$toolchain/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  /bin/bash -c 'cd /src && exec "$@"' in-root)

# A root made by an older version of this script: add what it lacks.
missing=()
for package in "${project_packages[@]}" "${toolchain_packages[@]}"; do
  status=$(chroot "$ROOT" dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing in the root: ${missing[*]}"
  chroot "$ROOT" apt-get update -qq
  chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 3. Versions, then the build alone (its errors first), then scripts/test.
hiredis=$("${in_root[@]}" pkg-config --modversion hiredis)
swift_version=$("${in_root[@]}" swift --version 2>&1) || {
  echo "$swift_version" >&2
  log "the toolchain does not run in the root (a library missing?)"
  exit 1
}
swift_version=$(head -n 1 <<<"$swift_version")
redis=$("${in_root[@]}" redis-server --version | awk '{print $3}')
redis=${redis#v=}
log "hiredis $hiredis, redis-server $redis${DEBIAN13_CHECK_HOST_REDIS:+ (from the host)}"
log "$swift_version"
summary() {
  local took=$(($(date +%s) - started))
  echo "debian13-check: hiredis $hiredis, swift ${swift_version#Swift version }, $1 exit $2 (redis $redis${DEBIAN13_CHECK_HOST_REDIS:+ from the host}, commit $commit, ${took}s)"
}

build_status=0
flock "$lock" "${in_root[@]}" swift build || build_status=$?
if [ "$build_status" -ne 0 ]; then
  summary "swift build" "$build_status"
  exit "$build_status"
fi

test_status=0
flock "$lock" "${in_root[@]}" scripts/test "$@" || test_status=$?

# 4.
summary "scripts/test" "$test_status"
exit "$test_status"
