#!/usr/bin/env bash
# Sets up a fresh machine: Debian packages (Chromium and friends for the editor tests, boto3 for the
# Python client's s3:// tests, PostgreSQL for the team-mode tests), the npm packages and the build.
# code-server for the real-editor tests is installed by the e2e suite itself
# when its cache is missing (scripts/install-code-server.sh), so the main job starts without it.
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
# python3-boto3: the Python client's s3:// references are tested under the system Python with it.
# postgresql: the team-mode tests start a throwaway PostgreSQL 15 cluster (test/support/postgres.ts).
# strace: the shared-blob-folder test reads which files a replica fsyncs.
for pkg in chromium ripgrep libkrb5-dev python3 python3-boto3 postgresql strace; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node esbuild.mjs
