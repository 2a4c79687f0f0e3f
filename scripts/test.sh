#!/usr/bin/env bash
# The test command (npm test): on a fresh clone it installs the node modules, checks types and
# lint, runs the unit tests, compiles what runs to dist/ (the integration tests spawn the
# services from there), brings up the local stack (fetching Kafka, the registry and FreeRADIUS
# on first use) and runs the integration tests, then the fault tests, against it. A stack this script started is
# stopped again at the end; one that was already running is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/ensure-deps.sh

echo "== type-check"; npx --no -- tsc --noEmit
echo "== lint"; npx --no -- eslint .
echo "== unit tests"; npx --no -- vitest run --project unit
echo "== build"; node scripts/build.mjs

if bash infra/stack.sh status >/dev/null 2>&1; then
  echo "== local stack already running: using it"
else
  echo "== starting the local stack"
  trap 'echo "== stopping the local stack"; bash infra/stack.sh down || true' EXIT
  bash infra/stack.sh up
fi
if [[ -f .stack/stack.env ]]; then set -a; source .stack/stack.env; set +a; fi
echo "== integration tests (real Kafka, registry, PostgreSQL, FreeRADIUS)"
npx --no -- vitest run --project integration
# Services killed -9 under load (minutes), ending with npm run consistency. The outage tests
# (broker restarted, PostgreSQL stopped, registry down) run with npm run test:fault: they are not
# in this command yet (docs/faults.md, "Not in npm test yet").
echo "== fault test (kill -9 under load, on the real stack)"
npx --no -- vitest run --project fault test/fault/kill.test.ts
echo "== npm test passed in $(( $(date +%s) - start ))s"
