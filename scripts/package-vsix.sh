#!/usr/bin/env bash
# Builds the extension package dist/amphora.vsix: production bundles (extension, bundled server
# with PGlite's WASM/data files, CLI, webview) + manifest + media. .vscodeignore keeps out
# sources, tests and node_modules (everything the extension needs is bundled).
# Usage: scripts/package-vsix.sh [OUT]   (default dist/amphora.vsix)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-dist/amphora.vsix}"
# Concurrent test runs share dist/: one build + package at a time.
exec 9>"${TMPDIR:-/tmp}/amphora-package-vsix.lock"
flock -w 300 9 || { echo "package-vsix: another packaging run holds the lock for 5 min" >&2; exit 1; }
node esbuild.mjs --production
for f in dist/extension.cjs dist/server.mjs dist/pglite.wasm dist/pglite.data; do
  [ -s "$f" ] || { echo "package-vsix: $f is missing after the build" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"
npx --no-install vsce package --no-dependencies --allow-missing-repository --skip-license --allow-star-activation -o "$OUT" >&2
echo "$OUT"
