#!/usr/bin/env bash
# What tests/infra/ci needs from the system: shellcheck (actionlint checks the workflows'
# `run:` scripts with it) and jq (the release job's steps read JSON with it, as on GitHub's
# runners). Installed only when missing (Debian/Ubuntu), so a machine that has them does no
# apt work.
set -euo pipefail
missing=()
for cmd in shellcheck jq; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "infra/ci/system-packages.sh: apt-get not found; install: ${missing[*]}" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
