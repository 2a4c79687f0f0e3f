#!/usr/bin/env bash
# Generates drizzle-kit migrations for every service (and test fixture) whose drizzle schema
# changed. Usage: npm run db:generate -- [name]   (name: the migration's name, default "change")
# The migrator creates the service's schema before the first migration runs (its bookkeeping
# table lives there), so the generated CREATE SCHEMA is made idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-change}"
for cfg in services/*/drizzle.config.ts test/fixtures/*/drizzle.config.ts; do
  [[ -f $cfg ]] || continue
  echo "== $cfg"
  npx --no -- drizzle-kit generate --config "$cfg" --name "$name"
  dir="$(dirname "$cfg")/migrations"
  sed -i -E 's/^CREATE SCHEMA "([^"]+)";/CREATE SCHEMA IF NOT EXISTS "\1";/' "$dir"/*.sql
done
