# Sourced by .ci/run: a freshly bootstrapped minimal Debian 12 root to run
# the README's commands in, as a new user's bare machine would have them.
#
# The base (debootstrap --variant=minbase bookworm, ~2 min) is kept as a
# tarball outside the clone, in $ASTER_CI_CACHE (default /var/cache/aster-ci),
# and rebuilt when missing, damaged or older than 30 days; every run unpacks
# a new copy, so nothing installed by an earlier run is ever seen. Downloaded
# .debs are kept there too (bind-mounted as the root's apt archive): apt still
# installs every package the scripts name, it only does not fetch it again.

ASTER_CI_CACHE=${ASTER_CI_CACHE:-/var/cache/aster-ci}
fresh_base=$ASTER_CI_CACHE/bookworm-minbase.tar
fresh_root=

# retry N CMD...: runs CMD up to N times, waiting longer after each failure
# (a mirror that drops a connection must not fail the whole run).
retry() {
  local tries=$1 i; shift
  for ((i = 1; i <= tries; i++)); do
    "$@" && return 0
    [ "$i" -lt "$tries" ] || break
    echo "   (attempt $i of $tries failed: $*; retrying in $((i * 10)) s)"
    sleep $((i * 10))
  done
  return 1
}

# The Debian mirror this machine's apt uses, so the root fetches from the
# same place (no host is named here).
apt_mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$m" ] || { echo "cannot tell this machine's Debian mirror from /etc/apt: set ASTER_CI_MIRROR" >&2; return 1; }
  echo "${ASTER_CI_MIRROR:-$m}"
}

debootstrap_once() {
  rm -rf --one-file-system "$1"
  debootstrap --variant=minbase bookworm "$1" "$2" >"$ASTER_CI_CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$ASTER_CI_CACHE/debootstrap.log"; return 1; }
}

ensure_base() {
  mkdir -p "$ASTER_CI_CACHE/apt-archives/partial"
  if [ -f "$fresh_base" ] && [ -z "$(find "$fresh_base" -mtime +30)" ] &&
     tar -tf "$fresh_base" ./usr/bin/apt-get >/dev/null 2>&1; then
    echo "   base root: $fresh_base (kept from an earlier run)"
    return 0
  fi
  command -v debootstrap >/dev/null ||
    retry 3 bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap'
  local mirror tmp=$ASTER_CI_CACHE/base.tmp
  mirror=$(apt_mirror)
  echo "   bootstrapping a minimal bookworm root (debootstrap --variant=minbase)"
  retry 3 debootstrap_once "$tmp" "$mirror"
  # The sources a fresh Debian 12 install has: the release, its updates and
  # security suites, from this machine's mirror configuration.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$tmp/etc/apt/sources.list.d/"
    : >"$tmp/etc/apt/sources.list"
  fi
  tar -C "$tmp" -cf "$fresh_base.new" . && mv "$fresh_base.new" "$fresh_base"
  rm -rf --one-file-system "$tmp"
}

# Roots left by runs that were killed before their clean-up (their owner
# pid is gone): their processes stopped, mounts undone, files removed.
drop_stale_roots() {
  local d owner
  for d in /var/tmp/aster-ci-root.*; do
    [ -d "$d" ] || continue
    owner=$(cat "$d/.ci-owner" 2>/dev/null || echo 0)
    [ "$owner" != 0 ] && kill -0 "$owner" 2>/dev/null && continue
    echo "   removing a root left by an earlier run: $d"
    (fresh_root=$d; drop_root) || true
  done
}

# make_root SRC: a new root from the base with SRC copied to /root/aster-exporter.
make_root() {
  drop_stale_roots
  fresh_root=$(mktemp -d /var/tmp/aster-ci-root.XXXXXX)
  echo $$ >"$fresh_root/.ci-owner"
  tar -C "$fresh_root" -xf "$fresh_base"
  cp /etc/resolv.conf "$fresh_root/etc/resolv.conf" 2>/dev/null || true
  # Installed daemons (nginx, prometheus) must not start: they would take
  # ports on the shared machine. This is what Debian's chroot builders do.
  printf '#!/bin/sh\nexit 101\n' >"$fresh_root/usr/sbin/policy-rc.d"
  chmod 755 "$fresh_root/usr/sbin/policy-rc.d"
  mkdir -p "$fresh_root/root/aster-exporter"
  tar -C "$1" --exclude=./build --exclude='./build-*' -cf - . | tar -C "$fresh_root/root/aster-exporter" -xf -
  # BPF, tracefs, cgroups and BTF live under /sys; the probes need /proc and
  # /dev as the host has them. rslave: unmounting here never reaches the host.
  mount --bind /proc "$fresh_root/proc"
  mount --rbind /sys "$fresh_root/sys" && mount --make-rslave "$fresh_root/sys"
  mount --rbind /dev "$fresh_root/dev" && mount --make-rslave "$fresh_root/dev"
  mount --bind "$ASTER_CI_CACHE/apt-archives" "$fresh_root/var/cache/apt/archives"
}

# in_root CMD: runs CMD with bash in the root, from the clone, with the
# environment a root login there would have (plus CI). in_root_exec does
# the same in place of the calling (sub)shell, so that `( in_root_exec CMD ) &`
# leaves $! the pid of CMD itself when CMD ends in exec.
in_root() { (in_root_exec "$1"); }
in_root_exec() {
  exec chroot "$fresh_root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb ${CI:+CI=$CI} \
    bash -c "cd /root/aster-exporter && $1"
}

# Every process whose root is the fresh root (what the run started there).
root_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    if [ "$r" = "$fresh_root" ]; then echo "${p#/proc/}"; fi
  done
  return 0
}

drop_root() {
  [ -n "$fresh_root" ] && [ -d "$fresh_root" ] || return 0
  local m pids
  # Nothing started in the root may outlive the run (an exporter left behind
  # would hold port 8497 and keep probes loaded on a shared machine).
  pids=$(root_pids)
  if [ -n "$pids" ]; then
    echo "   stopping what still runs in the root: $(echo $pids)"
    kill $pids 2>/dev/null || true
    sleep 2
    pids=$(root_pids)
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  fi
  for m in var/cache/apt/archives dev sys proc; do
    umount -R "$fresh_root/$m" 2>/dev/null || umount -R -l "$fresh_root/$m" 2>/dev/null || true
  done
  # Never delete through a mount that is still there (it would reach the
  # host's /dev or /sys): keep the root and say so instead.
  if findmnt -rn -o TARGET | grep -q "^$fresh_root/"; then
    echo "   left $fresh_root in place: mounts remain under it" >&2
    return 0
  fi
  rm -rf --one-file-system "$fresh_root"
}
