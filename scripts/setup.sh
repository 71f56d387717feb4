#!/usr/bin/env bash
# Sets up a fresh machine: the npm dependencies, and the reference tools the tests compare against
# (nasm, qemu-system-i386, GNU ld for 32-bit host code, chromium), from Debian when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nasm >/dev/null || need+=(nasm)
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
command -v ld >/dev/null || need+=(binutils)
if [ "${POPEK_E2E:-1}" != 0 ]; then command -v chromium >/dev/null || need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
