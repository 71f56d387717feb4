#!/usr/bin/env bash
# Installs code-server (VS Code 1.100.3's server and web workbench) from the npm registry into DIR
# (default .e2e/code-server), with no download but the npm registry and Debian's packages.
# Cached: a second call with a working install returns at once. Prints the code-server binary path last.
#
# Why each step: code-server's postinstall refuses root and runs @vscode/ripgrep's postinstall, which
# downloads rg from GitHub (unreachable here), so scripts go off and the pieces are done by hand;
# 4.100.3 is the newest code-server whose engines.node is 20.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CS_VER="${CS_VER:-4.100.3}"
DEST="${1:-$ROOT/.e2e/code-server}"
BIN="$DEST/node_modules/.bin/code-server"
STAMP="$DEST/.installed-$CS_VER"

if [ -f "$STAMP" ] && XDG_CONFIG_HOME="$DEST/.xdg-config" "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

# Debian packages the native modules and the workbench need: rg (search), libkrb5-dev (kerberos).
need=()
command -v rg >/dev/null || need+=(ripgrep)
[ -f /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-code-server: installing ${need[*]} from Debian" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$DEST"
cd "$DEST"
[ -f package.json ] || echo '{"name":"popek-e2e-code-server","private":true}' > package.json

# 1. code-server itself, scripts off; argon2 (password hashing, unused with --auth none but loaded)
#    falls back from its prebuilt download to node-gyp.
npm install --ignore-scripts --no-audit --no-fund --no-save "code-server@$CS_VER" >&2
npm rebuild argon2 >&2

VS="$DEST/node_modules/code-server/lib/vscode"
cd "$VS"
# 2. VS Code's runtime dependencies (what code-server's postinstall.sh would do), scripts off first ...
npm install --omit=dev --ignore-scripts --no-audit --no-fund >&2
# ... give @vscode/ripgrep Debian's rg, so that its postinstall sees bin/ and skips the download ...
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
# ... then build the native modules (node-pty, spdlog, kerberos, watcher ...). node-pty's postinstall
# runs `npx node-gyp`, which must not stop to ask.
npm_config_yes=true npm rebuild --no-audit --no-fund >&2

# 3. The built-in extensions' shared dependency and the links postinstall.sh makes.
(cd extensions && npm install --omit=dev --no-audit --no-fund >&2)
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)

XDG_CONFIG_HOME="$DEST/.xdg-config" "$BIN" --version >&2
touch "$STAMP"
echo "$BIN"
