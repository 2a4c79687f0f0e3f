#!/usr/bin/env bash
# The demo command (npm run demo): installs what is missing, brings up the local stack (Kafka,
# the schema registry, PostgreSQL, FreeRADIUS), shows where everything runs, then provisions four
# subscribers through every service (scripts/demo.ts) and prints their outcome. The demo and the
# services run compiled (dist/, built here when stale). The stack keeps running afterwards; stop
# it with `bash infra/stack.sh down`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
node scripts/build.mjs --if-stale
bash infra/stack.sh up
if [[ -f .stack/stack.env ]]; then set -a; source .stack/stack.env; set +a; fi
echo
bash infra/stack.sh status
echo
exec node --enable-source-maps dist/scripts/demo.js
