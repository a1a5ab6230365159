#!/usr/bin/env bash
# Copies the screenshots the e2e suite took (test-results/e2e/) that the extension's own README
# (vsix/README.md) shows into media/screenshots/, which the .vsix ships. Run after
# `node scripts/test.mjs e2e`.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=test-results/e2e
mkdir -p media/screenshots
for pair in "01-tree-versions:tree" "05-codelens-moved-v2:codelens" "lineage-01-instances:lineage" "palette-05-notebook-lens:notebook"; do
  from="$SRC/${pair%%:*}.png"
  [ -s "$from" ] || { echo "update-screenshots: $from is missing: run the e2e suite first" >&2; exit 1; }
  cp "$from" "media/screenshots/${pair##*:}.png"
done
echo "updated media/screenshots/ from $SRC"
