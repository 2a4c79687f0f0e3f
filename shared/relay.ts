// The outbox relay: publishes committed outbox rows in id order, then marks them published.
// It reads only the ids of what is unpublished: the rows themselves come from the units of work
// of this process, which hand them over as they commit (`offer`); a row it was not given (another
// process's, a sweep's written before a restart) is read from the table.
// One relay per service is active at a time (a session advisory lock); others stand by, so a
// second process of a service never reorders or doubles what the first publishes.
// Delivery is at-least-once at the Kafka boundary: a crash after Kafka acknowledged a batch but
// before the rows were marked publishes that batch again, and consumers' inboxes drop the
// repeat by event_id. See docs/runtime.md.
import { and, asc, isNull, lt, inArray, sql as dsql } from "drizzle-orm";
import type { Producer } from "kafkajs";
import type { Message } from "../schemas/generated/events.js";
import type { Codec } from "./codec.js";
import { lockKey, type Db, type Sql } from "./db.js";
import { DependencyUnavailable } from "./errors.js";
import type { Logger } from "./logger.js";
import { outboxChannel, type CommittedRows, type OutboxRow } from "./outbox.js";
import type { RuntimeTables } from "./runtime-tables.js";

export interface RelayOptions {
  readonly sql: Sql;
  readonly db: Db;
  readonly tables: RuntimeTables;
  readonly codec: Codec;
  readonly producer: Producer;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly batchSize?: number;
  /** Published outbox rows and inbox rows older than this are deleted (the topic is the history). */
  readonly keepPublishedMs?: number;
}

export interface Relay extends CommittedRows {
  /** Publishes now rather than at the next poll. */
  wake(): void;
  /** Resolves when nothing is left to publish (for tests and graceful shutdown). */
  drain(): Promise<void>;
  stop(): Promise<void>;
  readonly isActive: () => boolean;
}

/**
 * The rows of `ids`, in their order: from those handed over at commit (`offered`), the rest read
 * from the table in one query.
 */
export async function rowsOf(db: Db, tables: RuntimeTables, ids: ReadonlyArray<{ readonly id: bigint }>, offered: ReadonlyMap<bigint, OutboxRow>): Promise<OutboxRow[]> {
  const missing = ids.filter(({ id }) => !offered.has(id)).map(({ id }) => id);
  const read = missing.length === 0 ? [] : await db.select().from(tables.outbox).where(inArray(tables.outbox.id, missing));
  const readById = new Map<bigint, OutboxRow>(read.map((r) => [r.id, r]));
  return ids.flatMap(({ id }) => {
    const row = offered.get(id) ?? readById.get(id);
    return row ? [row] : [];
  });
}

type LockSession = Awaited<ReturnType<Sql["reserve"]>>;

/** postgres.js's own codes for a connection that no longer exists. */
const connectionGone = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "CONNECTION_CLOSED" || code === "CONNECTION_ENDED" || code === "CONNECTION_DESTROYED";
};

/**
 * A connection of the pool for the relay's own session, taken only while PostgreSQL answers. A
 * reserve() that has to wait for a connection while PostgreSQL is away never settles once a
 * connection closes under it (postgres.js 3.4.9, porsager/postgres#1195): a query first, so a
 * connection is open and reserve() takes it at once; and a bound on the wait all the same.
 */
async function reserveSession(sql: Sql): Promise<LockSession> {
  await sql`select 1`;
  const reserving = sql.reserve();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyUnavailable("postgres", new Error("no connection to reserve for the relay's lock within 10 s"))), 10_000);
  });
  try {
    return await Promise.race([reserving, bound]);
  } catch (err) {
    void reserving.then((late) => late.release(), () => undefined); // should it come after all
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number, signal: { wake?: () => void }): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const { sql, db, tables, codec, producer, pollMs } = opts;
  const schema = tables.schema.schemaName;
  const log = opts.logger.child({ component: "outbox-relay" });
  const batchSize = opts.batchSize ?? 500;
  const keepMs = opts.keepPublishedMs ?? 7 * 24 * 3600_000;
  const key = lockKey(`outbox-relay:${schema}`).toString();
  // The lock's own session. postgres.js never reconnects a reserved connection: once PostgreSQL
  // ends its session (a restart, pg_terminate_backend) every query on it fails with
  // CONNECTION_CLOSED. So a query on it that fails drops it, and the next one reserves another.
  let lockConn: LockSession | undefined = await reserveSession(sql);
  async function onLockSession<T>(query: (session: LockSession) => Promise<T>): Promise<T> {
    const session = (lockConn ??= await reserveSession(sql));
    try {
      return await query(session);
    } catch (err) {
      if (lockConn === session) {
        lockConn = undefined;
        // A connection that is gone is already back among the pool's closed ones (reconnected on
        // its next use): released, it would go among the open ones and fail whoever takes it.
        // One whose session lives (the query failed for another reason) lets go of the lock
        // first: back in the pool it would hold the lock against this very relay.
        if (!connectionGone(err)) {
          await session`select pg_advisory_unlock_all()`.catch(() => undefined);
          session.release();
        }
      }
      throw err;
    }
  }
  const signal: { wake?: () => void } = {};
  let stopped = false;
  let active = false;
  let pending = true;
  let lastPrune = 0;
  let lockPid: number | null = null;
  let lockCheckedAt = 0;
  const drainWaiters: Array<() => void> = [];
  /** Committed rows handed over by this process's units of work, by id, oldest first. */
  const offered = new Map<bigint, OutboxRow>();
  const maxOffered = 20_000;

  const listener = await sql.listen(outboxChannel(schema), () => {
    pending = true;
    signal.wake?.();
  });

  async function publishBatch(): Promise<number> {
    const ids = await db
      .select({ id: tables.outbox.id })
      .from(tables.outbox)
      .where(isNull(tables.outbox.publishedAt))
      .orderBy(asc(tables.outbox.id))
      .limit(batchSize);
    if (ids.length === 0) {
      offered.clear(); // published already, by this relay or one before it
      return 0;
    }
    const rows = await rowsOf(db, tables, ids, offered);
    if (rows.length === 0) return 0;
    const byTopic = new Map<string, Array<{ key: string; value: Buffer; headers: Record<string, string> }>>();
    for (const row of rows) {
      const message = { type: row.type, meta: row.meta, data: row.data } as Message;
      const value = await codec.encode(row.topic, message);
      const list = byTopic.get(row.topic) ?? [];
      list.push({ key: row.key, value, headers: row.headers });
      byTopic.set(row.topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    await db
      .update(tables.outbox)
      .set({ publishedAt: dsql`now()` })
      .where(inArray(tables.outbox.id, rows.map((r) => r.id)));
    const last = rows.at(-1)?.id ?? 0n;
    for (const id of offered.keys()) if (id <= last) offered.delete(id);
    log.debug({ count: rows.length, last_id: String(rows.at(-1)?.id) }, "published outbox batch");
    return rows.length;
  }

  async function prune(): Promise<void> {
    if (Date.now() - lastPrune < 3600_000) return;
    lastPrune = Date.now();
    await db
      .delete(tables.outbox)
      .where(and(lt(tables.outbox.publishedAt, new Date(Date.now() - keepMs))));
    // The inbox only has to outlive redeliveries (a rebalance, a crash, a relay's repeat: minutes);
    // a week of it is plenty, and it would otherwise grow with every event ever consumed.
    await db.delete(tables.inbox).where(lt(tables.inbox.processedAt, new Date(Date.now() - keepMs)));
  }

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (active && Date.now() - lockCheckedAt > 5_000) {
          // The lock lives as long as the session that took it: if PostgreSQL ended that session
          // (a restart), the lock is gone and another process may hold it now.
          lockCheckedAt = Date.now();
          const pid = await onLockSession((c) => c`select pg_backend_pid() as pid`).then((r) => Number(r[0]?.pid), () => null);
          if (pid !== lockPid) {
            active = false;
            log.warn({ schema }, "outbox relay lost its lock session; taking the lock again before publishing");
          }
        }
        if (!active) {
          const [row] = await onLockSession((c) => c`select pg_try_advisory_lock(${key}::bigint) as ok, pg_backend_pid() as pid`);
          active = row?.ok === true;
          lockPid = row ? Number(row.pid) : null;
          lockCheckedAt = Date.now();
          if (active) log.info({ schema }, "outbox relay active");
        }
        if (active) {
          pending = false;
          while (!stopped && (await publishBatch()) === batchSize) {
            /* keep going while full batches come back */
          }
          if (!pending) for (const w of drainWaiters.splice(0)) w();
          await prune();
        }
        failures = 0;
      } catch (err) {
        failures += 1;
        log.error({ err, failures }, "outbox relay failed; retrying");
        await sleep(Math.min(pollMs * 2 ** failures, 30_000), signal);
        continue;
      }
      if (!stopped && !pending) await sleep(pollMs, signal);
    }
  })();

  return {
    offer(rows) {
      // A relay standing by keeps nothing: the active one (in another process) reads the rows.
      if (!active || stopped) return;
      for (const r of rows) offered.set(r.id, r);
      for (const id of offered.keys()) {
        if (offered.size <= maxOffered) break;
        offered.delete(id); // read back from the table if it comes to that
      }
    },
    wake() {
      pending = true;
      signal.wake?.();
    },
    drain() {
      if (!active || stopped) return Promise.resolve();
      return new Promise((resolve) => {
        drainWaiters.push(resolve);
        pending = true;
        signal.wake?.();
      });
    },
    isActive: () => active,
    async stop() {
      stopped = true;
      signal.wake?.();
      await loop;
      await listener.unlisten();
      const session = lockConn;
      lockConn = undefined;
      if (session) {
        if (active) await session`select pg_advisory_unlock(${key}::bigint)`;
        session.release();
      }
      for (const w of drainWaiters.splice(0)) w();
    },
  };
}
