// PostgreSQL access: one postgres.js pool per process, drizzle on top, and the service's
// drizzle-kit migrations applied at start inside its own schema.
import { createHash } from "node:crypto";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres, { type Sql } from "postgres";
import { postgresTarget } from "./connections.js";

export type Db = PostgresJsDatabase;
export type { Sql };

/**
 * postgres.js options for a libpq-style URL (shared/connections.ts postgresTarget): libpq's way of
 * naming a Unix socket, `postgres://user@localhost/db?host=/var/run/postgresql`, and its TLS
 * parameters (sslmode, sslrootcert, sslcert, sslkey), which postgres.js would otherwise send to
 * the server as settings. A socket costs both sides less CPU per round trip than TCP over
 * loopback (docs/PERFORMANCE.md).
 */
export function postgresOptions(url: string): { url: string; options: { host?: string; ssl?: ReturnType<typeof postgresTarget>["ssl"] } } {
  const target = postgresTarget(url);
  return { url: target.url, options: { ...(target.host ? { host: target.host } : {}), ...(target.ssl !== undefined ? { ssl: target.ssl } : {}) } };
}

/** A postgres.js client for a libpq-style URL, with the socket and TLS options it names. */
export function postgresClient(url: string, options: postgres.Options<Record<string, never>> = {}): Sql {
  const target = postgresOptions(url);
  return postgres(target.url, { onnotice: () => {}, ...options, ...target.options });
}

export function connect(url: string, options: { max?: number; application?: string } = {}): { sql: Sql; db: Db } {
  const sql = postgresClient(url, {
    max: options.max ?? 8,
    // Prepared statements are planned for their parameters every time (as unprepared ones are):
    // a generic plan made while a table was nearly empty (a fresh database) stayed a sequential
    // scan as the table grew, and made the profile read and the inbox read 0.5 ms a call.
    connection: { application_name: options.application ?? "fiber", plan_cache_mode: "force_custom_plan" },
  });
  return { sql, db: drizzle(preparing(sql)) };
}

/** Statements with more parameters than this are not prepared: a list of ids (`in ($1, ..., $n)`) would make one per length. */
const maxPreparedParams = 32;

/**
 * drizzle runs every statement it did not name unprepared (postgres.js `unsafe(..., { prepare:
 * false })`), so PostgreSQL parsed each of them on every call and postgres.js described each
 * result again. The same few dozen statements run for every subscriber: this client has
 * postgres.js prepare them once per connection (its own statement cache, by text), in
 * transactions and savepoints too. They are still planned on every call (plan_cache_mode, above).
 */
export function preparing<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      const fn = v as (...a: unknown[]) => unknown;
      if (prop === "unsafe") {
        return (query: string, params?: readonly unknown[], opts?: object) =>
          fn.call(target, query, params, { ...opts, prepare: (params?.length ?? 0) <= maxPreparedParams });
      }
      if (prop === "begin" || prop === "savepoint") {
        return (...args: unknown[]) => {
          const body = args.at(-1) as (c: object) => unknown;
          return fn.call(target, ...args.slice(0, -1), (c: object) => body(preparing(c)));
        };
      }
      return fn.bind(target);
    },
  });
}

/**
 * The postgres.js client under a drizzle database or transaction (the pool, or the transaction's
 * connection). The statements every subscriber runs use its tagged templates: prepared by text
 * like the rest, with none of drizzle's query building and result mapping, which cost about
 * 0.1 ms of JavaScript a statement (docs/PERFORMANCE.md). Rows come back as PostgreSQL names them.
 */
export function clientOf(db: object): Sql {
  const client = (db as { session?: { client?: unknown } }).session?.client;
  if (typeof client !== "function") throw new Error("clientOf: not a drizzle postgres.js database or transaction");
  return client as Sql;
}

/** A stable 63-bit key for pg advisory locks, from a name. */
export const lockKey = (name: string): bigint => BigInt.asIntN(64, createHash("sha256").update(name).digest().readBigUInt64BE(0));

/**
 * Applies the migrations of `folder` to `schema`. Two processes of one service may start at
 * once: an advisory lock (on a one-connection client of its own) makes the second wait until
 * the first is done.
 */
export async function migrateSchema(url: string, schema: string, folder: string): Promise<void> {
  const sql = postgresClient(url, { max: 1 });
  const key = lockKey(`migrate:${schema}`).toString();
  try {
    await sql`select pg_advisory_lock(${key}::bigint)`;
    await migrate(drizzle(sql), { migrationsFolder: folder, migrationsSchema: schema, migrationsTable: "__drizzle_migrations" });
    await sql`select pg_advisory_unlock(${key}::bigint)`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
