#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks need, only those missing.
# With --build: only what installing the Python dependencies needs (pyfuse3 compiles against fuse3).
set -euo pipefail
packages=(wrk gcc libc6-dev make clang lld fuse3 libfuse3-dev pkg-config nginx curl rsync tar gzip systemd litmus rclone chromium chromium-driver)
if [ "${1:-}" = "--build" ]; then
  packages=(gcc libc6-dev fuse3 libfuse3-dev pkg-config)
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
