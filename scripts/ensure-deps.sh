#!/usr/bin/env bash
# Installs the node modules from package-lock.json when they are missing or older than the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund </dev/null
fi
