#!/usr/bin/env bash
# Generates drizzle-kit migrations for one service's (or test fixture's, or a shared schema's such
# as shared/access) drizzle schema.
# Usage: npm run db:generate -- <service-or-fixture-or-shared-schema> [migration-name]
# The migrator creates the service's schema before the first migration runs (its bookkeeping
# table lives there), so the generated CREATE SCHEMA is made idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: npm run db:generate -- <service> [migration-name]}"
name="${2:-change}"
for cfg in services/"$target"/drizzle.config.ts test/fixtures/"$target"/drizzle.config.ts shared/"$target"/drizzle.config.ts; do
  [[ -f $cfg ]] || continue
  echo "== $cfg"
  npx --no -- drizzle-kit generate --config "$cfg" --name "$name"
  dir="$(dirname "$cfg")/migrations"
  sed -i -E 's/^CREATE SCHEMA "([^"]+)";/CREATE SCHEMA IF NOT EXISTS "\1";/' "$dir"/*.sql
done
