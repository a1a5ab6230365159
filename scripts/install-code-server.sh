#!/usr/bin/env bash
# Installs code-server (a real VS Code in the browser) for the editor end-to-end tests into a cache
# outside the repo. Works offline: @vscode/ripgrep's postinstall would download ripgrep, so we
# pre-seed its download cache with Debian's /usr/bin/rg packed the way it expects.
# Prints the path of the code-server launcher on the last line. Skips work already done.
set -euo pipefail
VERSION="${CODE_SERVER_VERSION:-4.100.3}"
ROOT="${AMPHORA_CODE_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/amphora-ci/code-server-$VERSION}"
BIN="$ROOT/node_modules/code-server/out/node/entry.js"
if [ -f "$BIN" ] && [ -f "$ROOT/.installed" ]; then echo "$ROOT/node_modules/.bin/code-server"; exit 0; fi

command -v rg >/dev/null || { echo "install-code-server: ripgrep is missing; run: apt-get install -y ripgrep" >&2; exit 1; }
RG_CACHE="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
RG_TAR="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$RG_TAR" ]; then
  mkdir -p "$RG_CACHE"
  tmp="$(mktemp -d)"; cp "$(command -v rg)" "$tmp/rg"
  tar -C "$tmp" -czf "$RG_TAR" rg; rm -rf "$tmp"
fi

mkdir -p "$ROOT"
cd "$ROOT"
[ -f package.json ] || echo '{"name":"amphora-code-server","private":true}' > package.json
echo "install-code-server: installing code-server@$VERSION into $ROOT (takes a few minutes)" >&2
npm_config_yes=true npm_config_unsafe_perm=true npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION" >&2
[ -f "$BIN" ] || { echo "install-code-server: npm finished but $BIN is missing" >&2; exit 1; }
touch .installed
echo "$ROOT/node_modules/.bin/code-server"
