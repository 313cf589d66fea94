#!/usr/bin/env bash
# System tools the container image needs (Debian/Ubuntu): skopeo pushes and inspects OCI
# archives, docker-registry is the loopback OCI registry the push test talks to, podman+runc
# run the image, mmdebstrap builds the default base, qemu-user-static+binfmt-support run arm64.
# Idempotent: installs only the commands that are missing, so a machine that has them does
# no apt work at all.
set -euo pipefail

declare -A needs=(
  [skopeo]=skopeo
  [docker-registry]=docker-registry
  [podman]=podman
  [runc]=runc
  [mmdebstrap]=mmdebstrap
  [qemu-aarch64-static]=qemu-user-static
  [update-binfmts]=binfmt-support
)

missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-packages.sh: apt-get not found; install: ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# arm64 images run under qemu where the kernel lets binfmt_misc be mounted (a smoke test
# uses it; building never does). Best effort: a machine that refuses keeps building.
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  $sudo update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
