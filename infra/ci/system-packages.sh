#!/usr/bin/env bash
# shellcheck for actionlint's checks of the workflows' `run:` scripts (tests/infra/ci).
# Installed only when missing (Debian/Ubuntu), so a machine that has it does no apt work.
set -euo pipefail
command -v shellcheck >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "infra/ci/system-packages.sh: apt-get not found; install shellcheck" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq shellcheck >/dev/null
command -v shellcheck
