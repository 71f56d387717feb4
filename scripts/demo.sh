#!/usr/bin/env bash
# The main job on the bundled examples: lint each guest for a deprivileged kernel, paravirtualize it
# (popek fix), run the original natively and the fixed one under paravirtualization, compare all
# techniques, and build the .vsix to install into VS Code. Output lands in out/demo/.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
popek() { node dist/cli.js "$@"; }
mkdir -p out/demo
status=0
for src in examples/*.gasm; do
  name=$(basename "$src" .gasm)
  echo "=== $name"
  echo "--- popek lint --mode paravirtual"
  popek lint "$src" --mode paravirtual | head -n 12
  echo "--- popek fix"
  popek fix "$src" -o "out/demo/$name.pv.gasm" || status=1
  echo "--- popek run --mode native"
  popek run "$src" --mode native; echo "(exit status $?)"
  echo "--- popek run (fixed) --mode paravirtual"
  popek run "out/demo/$name.pv.gasm" --mode paravirtual; echo "(exit status $?)"
  echo "--- popek compare"
  popek compare "$src" || status=1
done
echo "=== packaging"
npm run --silent package || status=1
ls -l popek.vsix 2>/dev/null && echo "Install it with: code --install-extension popek.vsix"
exit $status
