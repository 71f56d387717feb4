#!/usr/bin/env bash
# `npm run fuzz`: the fuzz suite of test/fuzz at full scale (issue 16's campaign). POPEK_FUZZ_SCALE
# scales it (default 1 = full; 0.1 = a tenth), POPEK_FUZZ_SEED changes the seed, POPEK_FUZZ_REPORT
# names a file for the figures (one JSON line per surface). Extra arguments go to mocha, e.g.
# `npm run fuzz -- --grep 'language server'` for one surface. POPEK_FUZZ_ONLY=7813 (or 7800-8400)
# replays the DAP sequences a failure names (test/fuzz/debugAdapter.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
npx tsc -b
export POPEK_FUZZ_SCALE="${POPEK_FUZZ_SCALE:-1}"
exec npx mocha --no-config --enable-source-maps --timeout 0 --reporter spec --spec 'out/test/fuzz/*.test.js' "$@"
