#!/usr/bin/env bash
# Sets up a fresh machine: the npm dependencies, and the reference tools the tests compare against
# (nasm, qemu-system-i386, GNU ld and gcc for 32-bit host code, chromium for the VS Code tests), from
# Debian when they are missing. POPEK_E2E=0 skips what only the VS Code end-to-end tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nasm >/dev/null || need+=(nasm)
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
command -v ld >/dev/null && command -v readelf >/dev/null || need+=(binutils)   # ld, readelf, objdump (the ELF/DWARF references)
command -v gcc >/dev/null || need+=(gcc)          # gcc -m32 -S output is part of the lint corpus; gcc -m32 -c builds the ELF test kernels (test/kernels, test/debugger) (no multilib: nothing links libc/libgcc)
[ -x /usr/bin/time ] || need+=(time)             # GNU time: CPU time and peak RSS of nasm and popek in `npm run bench` (asm suite)
if [ "${POPEK_E2E:-1}" != 0 ]; then
  # The real-VS-Code tests: Chromium drives code-server, whose native modules need these.
  command -v chromium >/dev/null || need+=(chromium)
  command -v rg >/dev/null || need+=(ripgrep)
  command -v bc >/dev/null || need+=(bc)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
