# Sourced by the quick-start scripts: they install packages and load BPF
# programs, so they run as root. Run by another user, they ask sudo for it
# when sudo is there, and otherwise say how (a minimal Debian has no sudo).
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo -- "$PWD/scripts/$(basename "$0")" "$@"
  fi
  echo "$(basename "$0"): needs root (it installs packages and loads BPF programs): run it as root, e.g. su -c 'scripts/$(basename "$0")'" >&2
  exit 1
fi
