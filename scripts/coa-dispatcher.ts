// The radius service's CoA dispatcher on its own, without Kafka: for the dispatch tests, the
// process a test kills (test/fixtures/coa-dispatcher/main.ts), and the CoA benchmark. Its
// RadiusCoaCompleted events go to the radius outbox like the service's; no relay runs here.
//
// They run in a database of their own on the same server (isolatedDatabase), not the shared one:
// a radius service running against the shared database would claim their requests (and its
// relay publish their events to the shared topics), and they would claim its requests.
import { loadCatalog } from "../schemas/catalog.js";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, migrateSchema, postgresClient } from "../shared/db.js";
import { newId } from "../shared/ids.js";
import { createLogger, type Logger } from "../shared/logger.js";
import type { Relay } from "../shared/relay.js";
import { startDispatcher, type DispatcherConfig } from "../services/radius/dispatcher.js";
import { radiusMigrations } from "../services/radius/service.js";
import { inbox, outbox, schema } from "../services/radius/store/schema.js";

export const radiusTables = { schema, inbox, outbox };

const noRelay: Relay = { offer: () => undefined, wake: () => undefined, drain: async () => undefined, stop: async () => undefined, isActive: () => false };

let catalog: ReturnType<typeof loadCatalog> | undefined;

export interface StandaloneDispatcher {
  wake(): void;
  /** Stops the dispatcher (waiting for what is in flight) and closes its pool. */
  stop(): Promise<void>;
}

/** A dispatcher with its own PostgreSQL pool, as a second radius process would have. */
export function standaloneDispatcher(url: string, config: DispatcherConfig, logger: Logger = createLogger("radius", process.env.LOG_LEVEL ?? "warn")): StandaloneDispatcher {
  const { sql, db } = connect(url, { application: "coa-dispatcher" });
  catalog ??= loadCatalog();
  const dispatcher = startDispatcher({ db, tables: radiusTables, catalog, relay: noRelay, ctx: { producer: "radius", now: () => Date.now(), newId }, logger }, config);
  return {
    wake: () => dispatcher.wake(),
    async stop() {
      await dispatcher.stop();
      await sql.end({ timeout: 5 });
    },
  };
}

export const migrateRadius = (url: string): Promise<void> => migrateSchema(url, "radius", radiusMigrations);

const migrationsDigest = (): string =>
  createHash("sha256")
    .update(readFileSync(join(radiusMigrations, "meta", "_journal.json")))
    .digest("hex")
    .slice(0, 8);

/**
 * The URL of a database of its own on the server of `url`, created if it is missing, with the
 * radius schema migrated. Its name carries a digest of the radius migrations, so a change to
 * them (or a merge that renumbers them) gets a fresh database rather than a half-matching one.
 */
export async function isolatedDatabase(url: string, name = `fiber_coa_dispatch_${migrationsDigest()}`): Promise<string> {
  const admin = postgresClient(url, { max: 1 });
  try {
    const found = await admin`select 1 from pg_database where datname = ${name}`;
    if (found.length === 0) {
      await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== "42P04") throw err; // created meanwhile by another run
      });
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  const isolated = new URL(url);
  isolated.pathname = `/${name}`;
  await migrateRadius(isolated.toString());
  return isolated.toString();
}
