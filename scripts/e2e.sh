#!/usr/bin/env bash
# End-to-end tests of the Popek extension in a real VS Code, offline (npm registry + Debian only):
#   1. the vscode-API mocha suite under @vscode/test-electron (skipped, with a message, where VS Code
#      cannot be downloaded);
#   2. the same suite inside code-server 4.100.3's extension host (VS Code 1.100.3), after installing
#      the packaged .vsix with --install-extension; Chromium opens the workbench so the host starts;
#   3. Playwright checks of what only the screen shows.
# Screenshots: test-results/e2e/. Exit status 0 only when nothing failed. Re-runnable: fresh profile
# and workspace every run; code-server is installed once into .e2e/code-server.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
E2E="$ROOT/.e2e"
RUN="$E2E/run"
OUT="$ROOT/test-results/e2e"
PORT="${POPEK_E2E_PORT:-8123}"
CS_URL="http://127.0.0.1:$PORT"
now() { date +%s.%N; }
el() { printf '%.1fs' "$(echo "$(now) - $1" | bc)"; }
T_ALL=$(now)

# --- 0. Chromium (Debian; scripts/setup.sh installs it too) and code-server ------------------------
if ! command -v chromium >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
mkdir -p "$E2E"
T=$(now)
CS="$(bash scripts/install-code-server.sh "$E2E/code-server" 2> "$E2E/code-server-install.log" | tail -1)" \
  || { tail -30 "$E2E/code-server-install.log"; exit 1; }
echo "e2e: code-server ready ($(el "$T")): $("$CS" --version 2>/dev/null | head -1)"

# --- 1. build, bundle the suite, package the .vsix -------------------------------------------------
T=$(now)
node esbuild.mjs > "$E2E/build.log" 2>&1 || { cat "$E2E/build.log"; exit 1; }
node test/e2e/build.mjs
rm -f "$E2E/popek.vsix"
npx vsce package --no-dependencies --no-rewrite-relative-links -o "$E2E/popek.vsix" > "$E2E/vsce.log" 2>&1 \
  || { cat "$E2E/vsce.log"; exit 1; }
echo "e2e: built and packaged ($(el "$T")): $(du -h "$E2E/popek.vsix" | cut -f1) .vsix"

HAVE=()
for b in server debugAdapter cli; do [ -f "dist/$b.js" ] && HAVE+=("$b"); done
if [ -f dist/cli.js ] && node dist/cli.js compare test/e2e/fixtures/ws/hello.gasm --json > "$E2E/compare-probe.json" 2>/dev/null \
   && node -e "JSON.parse(require('fs').readFileSync('$E2E/compare-probe.json','utf8'))" 2>/dev/null; then HAVE+=(compare); fi
export POPEK_HAVE="$(IFS=,; echo "${HAVE[*]:-}")"
echo "e2e: bundles present: ${POPEK_HAVE:-none}"

rm -rf "$RUN" "$OUT"
mkdir -p "$RUN" "$OUT"
: > "$RUN/tally.log"
fresh_ws() { rm -rf "$1"; mkdir -p "$1"; cp -R test/e2e/fixtures/ws/. "$1/"; }
failures=0

# --- 2. launcher 1: @vscode/test-electron ----------------------------------------------------------
fresh_ws "$RUN/ws-electron"
if [ "${POPEK_E2E_ELECTRON:-1}" = 1 ]; then
  xvfb=(); if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then xvfb=(xvfb-run -a); fi
  "${xvfb[@]}" node "$E2E/build/runElectron.js" "$RUN/ws-electron" || failures=$((failures + 1))
fi

# --- 3. code-server: fresh profile, the .vsix installed the way a user installs it -----------------
export XDG_CONFIG_HOME="$RUN/xdg-config" XDG_DATA_HOME="$RUN/xdg-data"
export EXTENSIONS_GALLERY='{}'   # no gallery: nothing is fetched
mkdir -p "$RUN/ud/User" "$RUN/ext"
cat > "$RUN/ud/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "update.mode": "none",
  "workbench.enableExperiments": false,
  "workbench.tips.enabled": false,
  "git.enabled": false,
  "debug.openDebug": "openOnDebugBreak",
  "editor.hover.delay": 100,
  "files.autoSave": "off"
}
JSON
# files.autoSave: desktop VS Code's default. In the browser it is "afterDelay", which saves every edit
# a second later: an unsaved edit could not be checked, and it raced the suite's own doc.save().
"$CS" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" --install-extension "$E2E/popek.vsix" > "$RUN/install.log" 2>&1 \
  || { cat "$RUN/install.log"; exit 1; }
"$CS" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" --list-extensions 2>/dev/null | grep -qx 'popek.popek' \
  || { echo "e2e: FAIL the .vsix did not install"; cat "$RUN/install.log"; exit 1; }
echo "e2e: ok   the .vsix installs with --install-extension"

CS_PID=""
start_cs() { # $1: workspace, $2: log
  setsid "$CS" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
    --disable-workspace-trust --disable-getting-started-override \
    --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" "$1" > "$2" 2>&1 &
  CS_PID=$!
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$CS_URL/healthz" && return 0; sleep 0.1; done
  cat "$2"; return 1
}
stop_cs() { # the whole process group: the extension host outlives the main process for a while
  [ -n "$CS_PID" ] || return 0
  kill -TERM -- "-$CS_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -g "$CS_PID" >/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$CS_PID" 2>/dev/null || true
  CS_PID=""
}
trap stop_cs EXIT

# --- 4. launcher 2: the suite in code-server's extension host ---------------------------------------
# POPEK_E2E_PHASES=ui (or suite) runs one phase only, POPEK_E2E_ONLY=REGEX only the screen checks it
# names: for working on one check; CI runs everything.
PHASES="${POPEK_E2E_PHASES:-suite,ui}"
if [[ ",$PHASES," == *",suite,"* ]]; then
fresh_ws "$RUN/ws-suite"
T=$(now)
POPEK_E2E_SUITE="$E2E/build/suite/index.js" POPEK_E2E_RESULT="$RUN/suite-result.json" start_cs "$RUN/ws-suite" "$RUN/code-server-suite.log"
CS_URL="$CS_URL" WS="$RUN/ws-suite" OUT="$OUT" RESULT="$RUN/suite-result.json" timeout 900 node "$E2E/build/workbench.js" suite \
  | tee -a "$RUN/tally.log" || failures=$((failures + 1))
stop_cs
echo "e2e: suite phase $(el "$T")"
fi

# --- 5. what only the screen shows ------------------------------------------------------------------
if [[ ",$PHASES," == *",ui,"* ]]; then
fresh_ws "$RUN/ws-ui"
T=$(now)
start_cs "$RUN/ws-ui" "$RUN/code-server-ui.log"
CS_URL="$CS_URL" WS="$RUN/ws-ui" OUT="$OUT" timeout 600 node "$E2E/build/workbench.js" ui | tee -a "$RUN/tally.log" || failures=$((failures + 1))
stop_cs
echo "e2e: ui phase $(el "$T")"
fi

# --- 6. activation time, as the extension logged it in code-server (for npm run bench) ---------------
node -e '
const fs = require("fs"), path = require("path");
const found = [];
(function walk(d) { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
  const p = path.join(d, e.name);
  if (e.isDirectory()) walk(p); else if (e.name === "Popek.log") for (const m of fs.readFileSync(p, "utf8").matchAll(/activated in ([\d.]+) ms \(VS Code ([^,]+), ([^)]+)\)/g)) found.push({ ms: +m[1], vscode: m[2], app: m[3] });
} })(process.argv[1]);
fs.writeFileSync(process.argv[2], JSON.stringify({ measured: new Date().toISOString(), activations: found }, null, 2));
console.log(found.length ? `e2e: activation in code-server: ${found.map((f) => f.ms + " ms").join(", ")}` : "e2e: no activation line found in the extension logs");
' "$RUN/ud/logs" "$E2E/activation.json" || true

echo "e2e: screenshots in ${OUT#$ROOT/}/; total $(el "$T_ALL")"
[ "$failures" -eq 0 ] || echo "e2e: $failures launcher(s) failed"
# One closing tally: the suite's own tests plus the screen checks (each phase prints its counts).
node -e '
const t = require("fs").readFileSync(process.argv[1], "utf8");
let p = 0, f = 0, s = 0;
for (const m of t.matchAll(/^\s*(?:suite|ui): (\d+) passed, (\d+) failed, (\d+) skipped$/gm)) { p += +m[1]; f += +m[2]; s += +m[3]; }
// A launcher that failed without a count of its own (e.g. test-electron) still counts as a failure.
if (f === 0) f = Number(process.argv[2]);
console.log(`e2e: ${p} passed, ${f} failed, ${s} skipped`);
' "$RUN/tally.log" "$failures"
exit $((failures > 0))
