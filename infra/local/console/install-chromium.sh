#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/: /docs and the console, headless,
# loopback only). Idempotent: does nothing when chromium is already on PATH.
set -euo pipefail

command -v chromium >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: apt-get not found; install Chromium (the chromium command)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: chromium"
# Another apt run (another Makefile step) may hold dpkg's lock: wait for it, bounded.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
  --no-install-recommends chromium
