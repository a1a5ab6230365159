#!/usr/bin/env bash
# Builds the extension package dist/amphora.vsix: production bundles (extension, bundled server
# with PGlite's WASM/data files, webview) + manifest + media. .vscodeignore keeps out sources,
# tests and node_modules (everything the extension needs is bundled).
# Usage: scripts/package-vsix.sh [OUT]   (default dist/amphora.vsix; prints the path it wrote)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
OUT="${1:-dist/amphora.vsix}"
case "$OUT" in /*) ABS_OUT="$OUT" ;; *) ABS_OUT="$REPO/$OUT" ;; esac
# Build and package in a private staging folder: test runs rebuild dist/ at any time, and a file
# changing under vsce breaks the zip ("file data stream has unexpected number of bytes").
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/amphora-vsix.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
node esbuild.mjs --production --outdir="$STAGE/dist" >&2
for f in extension.cjs server.mjs cli.mjs initdb.mjs pglite.wasm pglite.data vendor/aws-s3.mjs vendor/gcs.mjs; do
  [ -s "$STAGE/dist/$f" ] || { echo "package-vsix: dist/$f is missing after the build" >&2; exit 1; }
done
# server.mjs and initdb.mjs import shared chunks (code splitting, see esbuild.mjs).
ls "$STAGE"/dist/chunk-*.mjs >/dev/null 2>&1 || { echo "package-vsix: no dist/chunk-*.mjs after the build" >&2; exit 1; }
# The package carries the extension's own README and CHANGELOG (vsix/), not the repository's.
cp -r package.json .vscodeignore media LICENSE "$STAGE/"
cp vsix/README.md vsix/CHANGELOG.md "$STAGE/"
mkdir -p "$(dirname "$ABS_OUT")"
(cd "$STAGE" && "$REPO/node_modules/.bin/vsce" package --no-dependencies --allow-missing-repository \
  --no-rewrite-relative-links --allow-star-activation -o "$ABS_OUT.tmp" >&2)
mv "$ABS_OUT.tmp" "$ABS_OUT"   # readers never see a half-written package
echo "$OUT"
