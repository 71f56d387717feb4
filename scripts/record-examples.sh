#!/usr/bin/env bash
# Records QEMU's console output and exit status of every example (or of the ones named) into
# examples/expected/<name>.json. Needs nasm and qemu-system-i386 (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/record-examples.ts "$@"
