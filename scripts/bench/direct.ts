// "The direct limit": the PostgreSQL work of provisioning done directly, in one process, with no
// Kafka between the steps. The throughput benchmark (scripts/bench.ts) compares its own number,
// measured through Kafka, with this one: the ratio is what Kafka, the schema registry and the
// Avro encode / decode cost end to end (plus the latency of the hops, batching and polling).
//
// How: the seven services' own reactors (each definition's `reactor(deps)`, the code the runtime
// runs) are built in this process over their own PostgreSQL pools, and driven in rounds. Each
// round, every service takes everything queued for it (per topic, as a batch holds one topic) and
// runs it as ONE unit of work (`reactor.run(items)`, one transaction, as one large batch would);
// then the relay's PostgreSQL work is done for that service (when it ran something: the relay is
// woken by its commit's NOTIFY): its unpublished outbox rows are selected in id order (500 at a
// time, as the relay does) and marked published, and each row is
// turned back into a message and queued for every service that consumes its topic and accepts its
// type, as the consumer runner would hand it over. The seven services run concurrently within a
// round (they are seven processes in the real deployment), each service's topics one after the
// other. Rounds go on until nothing is queued anywhere. The clock runs from the first round to the
// end of the last; the pools' connections are opened before it starts. The outcome of each order
// is read from the subscriber service's OrderCompleted / OrderFailed rows on crm.order-status.v1.
// By default every order is fed before the first round, so all orders move in lockstep and a
// round lasts as long as the one service that has work in it: the time is the sum of the steps.
// `waves` feeds them in slices, one per round, so the services overlap as a pipeline.
// A unit of work here holds everything of the round (e.g. 1000 orders' events); the runtime's
// holds at most 500 per partition, group-committed across the partitions of a fetch. Per-item
// cost that grows with the size of a transaction therefore shows more here (seen: ipam).
//
// Included, per batch, exactly as the runtime does them (it is the runtime's own code):
// - the inbox insert (processBatch), the service's state load / save (keyedReactor, viewReactor,
//   perEvent handlers), its effects (subscribers, profiles, IP allocations, RADIUS accounts, the
//   simulated OLT's own transactions, billing records, projection documents), the outbox insert
//   and its pg_notify, all in the one transaction;
// - the relay's select of unpublished outbox rows in id order, and its `update ... set
//   published_at = now()` of those rows; the relay's contract check before the outbox insert
//   (checkContract in enqueue) stays, as do the consumer's topic check and `accepts` filter;
// - the logging the handlers do, at level warn (the per-event child loggers are built lazily, as
//   the consumer runner builds them).
// Left out:
// - Kafka (producing, fetching, offsets, consumer groups, partitions) and the Kafka latency and
//   batching between the steps: a message is handed over as soon as its round is over;
// - the schema registry and the Avro encode (relay) / decode (consumer): a message is rebuilt
//   from the outbox row's jsonb {type, meta, data} (so fields the producer left out and Avro
//   would fill with their default stay absent);
// - work that does not happen per batch: the relay's advisory lock, LISTEN and hourly prune, the
//   subscriber's deadline sweep, radius's CoA dispatcher (provisioning queues no CoA, so it is
//   never woken), the HTTP health endpoints, start-up (migrations run before the clock starts);
// - the runtime's retry, DLQ and per-chunk narrowing: an error in a unit of work ends the run.
// One difference in a statement: the relay's select also filters on the run's tenant
// (`meta->>'tenant_id'`), because the database is shared: another tenant's unpublished rows are
// not this run's to mark. It reads the same partial index (outbox_unpublished).
//
// The database must not have the real services connected while this runs: their relays would
// publish this run's outbox rows to Kafka and their consumers would race these reactors for the
// same inbox. benchDirect refuses to start when it sees them (pg_stat_activity), and every socket
// to the Kafka brokers or the registry is refused while it runs: no broker is needed.
//
//   npx tsx scripts/bench/direct.ts [--n 1000] [--database fiber_direct]
// (sets up a fresh tenant, in a database of its own by default, then runs the orders; see ensureDatabase)
import net from "node:net";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { and, asc, inArray, isNull, sql as dsql } from "drizzle-orm";
import type { z } from "zod";
import { loadCatalog } from "../../schemas/catalog.js";
import { eventTopics, type EventName, type Message } from "../../schemas/generated/events.js";
import { loadConfig, type BaseConfig } from "../../shared/config.js";
import { checkTopic, lazyLog, type BatchReactor, type Incoming } from "../../shared/consumer.js";
import { connect, migrateSchema, type Sql } from "../../shared/db.js";
import { newId } from "../../shared/ids.js";
import { createLogger, type Logger } from "../../shared/logger.js";
import { eventHeaders, type Delivery, type OutboxRow } from "../../shared/outbox.js";
import { rowsOf } from "../../shared/relay.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { serviceNames, topics, type ServiceName } from "../../shared/topics.js";
import { definition as billing } from "../../services/billing/service.js";
import { definition as ipam } from "../../services/ipam/service.js";
import { definition as olt } from "../../services/olt/service.js";
import { definition as profile } from "../../services/profile/service.js";
import { definition as projection } from "../../services/projection/service.js";
import { definition as radius } from "../../services/radius/service.js";
import { definition as subscriber } from "../../services/subscriber/service.js";
import { setupTenants } from "../tenant-setup.js";
import { benchOrders, benchTenant } from "./fixture.js";

type AnyDefinition = ServiceDefinition<z.ZodRawShape>;

const definitions: Record<ServiceName, () => AnyDefinition> = {
  subscriber: () => subscriber() as unknown as AnyDefinition,
  profile: () => profile() as unknown as AnyDefinition,
  ipam: () => ipam() as unknown as AnyDefinition,
  radius: () => radius() as unknown as AnyDefinition,
  olt: () => olt() as unknown as AnyDefinition,
  billing: () => billing() as unknown as AnyDefinition,
  projection: () => projection() as unknown as AnyDefinition,
};

/** The relay's page size (shared/relay.ts, batchSize default). */
const RELAY_BATCH = 500;

export interface DirectOptions {
  readonly databaseUrl: string;
  /** The tenant the orders are for; set up beforehand (scripts/tenant-setup.ts). */
  readonly tenant: string;
  /** ProvisionOrderPlaced messages (scripts/crm.ts provisionOrder), fed on crm.orders.v1. */
  readonly orders: readonly Message[];
  readonly log?: (s: string) => void;
  /**
   * Feed the orders in this many waves, one per round (default 1: all before the first round).
   * With one wave every order is at the same step in every round, so a round's time is that of
   * the one service with work to do; more waves let the services overlap, as a pipeline.
   */
  readonly waves?: number;
}

export interface DirectResult {
  readonly subscribers: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly completed: number;
  readonly failed: number;
}

/** A stand-in for what reactors must never touch here (Kafka, the producer, the codec, the relay). */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get(_t, prop) {
      // Not a thenable: `await` on it, or a promise resolved with it, must not count as use.
      if (prop === "then") return undefined;
      throw new Error(`direct bench: ${what}.${String(prop)} was used, but there is no ${what} here`);
    },
  });
}

/** Refuses every socket to these ports (the Kafka brokers, the registry) until the returned function is called. */
function refuseSockets(ports: ReadonlySet<number>): () => void {
  const proto = net.Socket.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const original = proto.connect;
  proto.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const target = Array.isArray(first) ? first[0] : first;
    const port = typeof target === "object" && target !== null && "port" in target ? Number((target as { port: unknown }).port) : Number(target);
    if (ports.has(port)) throw new Error(`direct bench: a connection to port ${port} (Kafka or the registry) was opened`);
    return original.apply(this, args);
  };
  return () => {
    proto.connect = original;
  };
}

const portOf = (hostPort: string, fallback: number): number => {
  const p = Number(hostPort.split(":").at(-1));
  return Number.isFinite(p) && p > 0 ? p : fallback;
};

/** An error and its causes, one line each; a query error's statement (events, parameters) cut short. */
function describe(err: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && lines.length < 5; e = (e as { cause?: unknown }).cause) {
    const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    lines.push(text.length > 400 ? `${text.slice(0, 400)}...` : text);
    if (typeof e !== "object") break;
  }
  return lines.join("\n  caused by ");
}


interface Service {
  readonly name: ServiceName;
  readonly def: AnyDefinition;
  readonly deps: ServiceDeps;
  readonly reactor: BatchReactor;
  readonly consumerLog: Logger;
  readonly sql: Sql;
  /** What is queued for it, per topic, in arrival order. */
  queue: Map<string, Incoming[]>;
  /** Outbox rows its units of work handed to the relay as they committed (shared/relay.ts offer). */
  readonly offered: Map<bigint, OutboxRow>;
  handled: number;
  published: number;
}

/** Services of the real runtime connected to this database (their pools name themselves after the service). */
async function liveServices(sql: Sql): Promise<string[]> {
  const rows = await sql<{ application_name: string; n: number }[]>`
    select application_name, count(*)::int as n from pg_stat_activity
    where datname = current_database() and application_name in ${sql([...serviceNames])}
    group by application_name order by application_name`;
  return rows.map((r) => `${r.application_name} (${r.n})`);
}

export async function benchDirect(opts: DirectOptions): Promise<DirectResult> {
  const log = opts.log ?? (() => undefined);
  const env = { ...process.env, DATABASE_URL: opts.databaseUrl, LOG_LEVEL: "warn" };
  const base = loadConfig({}, env);
  const restoreSockets = refuseSockets(new Set([...base.KAFKA_BROKERS.map((b) => portOf(b, 9092)), portOf(new URL(base.SCHEMA_REGISTRY_URL).host, 80)]));
  const catalog = loadCatalog();
  const services: Service[] = [];
  try {
    for (const name of serviceNames) {
      const def = definitions[name]();
      await migrateSchema(opts.databaseUrl, def.tables.schema.schemaName ?? def.name, def.migrationsFolder);
    }
    for (const name of serviceNames) {
      const def = definitions[name]();
      const config = loadConfig(def.config, env) as BaseConfig;
      const logger = createLogger(def.name, config.LOG_LEVEL);
      const { sql, db } = connect(opts.databaseUrl, { application: `direct-bench:${def.name}` });
      const offered = new Map<bigint, OutboxRow>();
      const relay: ServiceDeps["relay"] = {
        ...unavailable<ServiceDeps["relay"]>("relay"),
        offer: (rows) => rows.forEach((r) => offered.set(r.id, r)),
      };
      const deps: ServiceDeps = {
        name: def.name,
        config,
        logger,
        sql,
        db,
        kafka: unavailable("kafka"),
        codec: unavailable("codec"),
        producer: unavailable("producer"),
        relay,
        catalog,
        tables: def.tables,
        ctx: { producer: def.name, now: () => Date.now(), newId },
      };
      services.push({
        name,
        def,
        deps,
        reactor: def.reactor(deps),
        consumerLog: logger.child({ component: "consumer", group: def.name }),
        sql,
        queue: new Map(),
        offered,
        handled: 0,
        published: 0,
      });
    }
    const first = services[0];
    if (!first) throw new Error("no services");
    const live = await liveServices(first.sql);
    if (live.length > 0) {
      throw new Error(`services are connected to this database: ${live.join(", ")}. Their relays would publish this run's outbox rows and their consumers would race this run; stop them first.`);
    }

    const contractTopics = new Set(Object.values(eventTopics));
    let offset = 0;
    const deliver = (message: Message, topic: string, headers: Readonly<Record<string, string>>): void => {
      checkTopic(message, topic, contractTopics);
      for (const s of services) {
        if (!s.def.consumes.includes(topic) || !s.reactor.accepts(message.type, topic)) continue;
        const delivery: Delivery = { topic, partition: 0, offset: String(offset++), headers };
        const list = s.queue.get(topic) ?? [];
        list.push({ message, delivery, log: lazyLog(s.consumerLog, message) });
        s.queue.set(topic, list);
      }
    };

    /**
     * The relay's PostgreSQL work: the ids of unpublished rows in id order, a page at a time, the
     * rows themselves as the units of work handed them over (read only when not), each page
     * marked published.
     */
    const relay = async (s: Service): Promise<OutboxRow[]> => {
      const { outbox } = s.def.tables;
      const all: OutboxRow[] = [];
      for (;;) {
        const ids = await s.deps.db
          .select({ id: outbox.id })
          .from(outbox)
          .where(and(isNull(outbox.publishedAt), dsql`${outbox.meta}->>'tenant_id' = ${opts.tenant}`))
          .orderBy(asc(outbox.id))
          .limit(RELAY_BATCH);
        if (ids.length === 0) break;
        const rows = await rowsOf(s.deps.db, s.def.tables, ids, s.offered);
        for (const { id } of ids) s.offered.delete(id);
        await s.deps.db
          .update(outbox)
          .set({ publishedAt: dsql`now()` })
          .where(inArray(outbox.id, rows.map((r) => r.id)));
        all.push(...rows);
        if (ids.length < RELAY_BATCH) break;
      }
      s.published += all.length;
      return all;
    };

    const orderIds = new Set<string>();
    for (const o of opts.orders) {
      if (o.type !== "ProvisionOrderPlaced") throw new Error(`expected ProvisionOrderPlaced orders, got ${o.type}`);
      orderIds.add(o.data.order_id);
    }
    const outcomes = new Map<string, Message<"OrderCompleted"> | Message<"OrderFailed">>();
    const note = (s: Service, m: Message, topic: string): void => {
      if (s.name !== "subscriber" || topic !== topics.orderStatus) return;
      if (m.type !== "OrderCompleted" && m.type !== "OrderFailed") return;
      if (!orderIds.has(m.data.order_id)) return;
      if (outcomes.has(m.data.order_id)) log(`order ${m.data.order_id}: a second outcome (${m.type}), the first was ${outcomes.get(m.data.order_id)?.type}`);
      else outcomes.set(m.data.order_id, m);
    };

    // Connections are opened before the clock starts (the runtime's are open long before a
    // burst): two per service, as the olt driver's transactions run beside the batch's.
    await Promise.all(services.flatMap((s) => [s.sql`select 1`, s.sql`select 1`]));

    // Orders arrive on crm.orders.v1 with the headers the CRM gives them (scripts/crm.ts).
    const waves = Math.max(1, Math.floor(opts.waves ?? 1));
    const perWave = Math.ceil(opts.orders.length / waves);
    let fed = 0;
    const feed = (): void => {
      for (const o of opts.orders.slice(fed, fed + perWave)) deliver(o, topics.crmOrders, eventHeaders(o));
      fed += perWave;
    };

    const started = performance.now();
    let round = 0;
    for (;;) {
      if (fed < opts.orders.length) feed();
      if (!services.some((s) => s.queue.size > 0)) break;
      round += 1;
      const t0 = performance.now();
      const spent = services.map(() => 0);
      const taken = services.map((s) => {
        const q = s.queue;
        s.queue = new Map();
        return q;
      });
      const published = await Promise.all(
        services.map(async (s, i) => {
          const t = performance.now();
          const batches = taken[i] ?? new Map<string, Incoming[]>();
          for (const [topic, items] of batches) {
            try {
              await s.reactor.run(items);
            } catch (err) {
              throw new Error(`${s.name}: the unit of work of ${items.length} item(s) on ${topic} failed: ${describe(err)}`, { cause: err });
            }
            s.handled += items.length;
          }
          // The relay is woken by the NOTIFY of a commit: a service that ran nothing has nothing new.
          const rows = batches.size > 0 ? await relay(s) : [];
          spent[i] = performance.now() - t;
          return rows;
        }),
      );
      let handed = 0;
      services.forEach((s, i) => {
        for (const row of published[i] ?? []) {
          const message = { type: row.type as EventName, meta: row.meta, data: row.data } as Message;
          note(s, message, row.topic);
          deliver(message, row.topic, row.headers);
          handed += 1;
        }
      });
      const sizes = taken.map((q, i) => `${services[i]?.name}=${[...q.values()].reduce((n, l) => n + l.length, 0)} (${(spent[i] ?? 0).toFixed(0)} ms)`).join(" ");
      log(`round ${round}: ${sizes}; ${handed} outbox rows relayed; ${(performance.now() - t0).toFixed(0)} ms`);
    }
    // What the services hold in memory (deferred states) is written, as their consumers would.
    for (const s of services) await s.reactor.deferred?.flush();
    const seconds = (performance.now() - started) / 1000;

    let completed = 0;
    let failed = 0;
    const reasons = new Map<string, number>();
    for (const m of outcomes.values()) {
      if (m.type === "OrderCompleted") completed += 1;
      else {
        failed += 1;
        const why = `${m.data.step}: ${m.data.reason}`;
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
      }
    }
    for (const [why, n] of reasons) log(`failed x${n}: ${why}`);
    const missing = opts.orders.length - outcomes.size;
    if (missing > 0) log(`${missing} order(s) have no outcome (rejected, or stuck: nothing more was queued)`);
    log(`${round} rounds; handled ${services.map((s) => `${s.name}=${s.handled}`).join(" ")}; relayed ${services.map((s) => `${s.name}=${s.published}`).join(" ")}`);
    const after = await liveServices(first.sql);
    if (after.length > 0) log(`WARNING: services connected to the database during the run: ${after.join(", ")}; the numbers may be disturbed`);
    return { subscribers: opts.orders.length, seconds, perSecond: opts.orders.length / seconds, completed, failed };
  } finally {
    await Promise.all(services.map((s) => s.sql.end({ timeout: 5 })));
    restoreSockets();
  }
}

/** The lines the throughput benchmark prints for the direct run beside its own (through Kafka) number. */
export function directReport(direct: DirectResult, viaKafkaPerSecond: number): string {
  return [
    `direct: ${direct.subscribers} subscribers in ${direct.seconds.toFixed(1)} s: ${direct.perSecond.toFixed(1)} subscribers/s (completed ${direct.completed}, failed ${direct.failed})`,
    `through Kafka ${viaKafkaPerSecond.toFixed(1)}/s is ${((100 * viaKafkaPerSecond) / direct.perSecond).toFixed(0)}% of the direct limit (direct / Kafka = ${(direct.perSecond / viaKafkaPerSecond).toFixed(2)}x)`,
  ].join("\n");
}

// ---- CLI ----------------------------------------------------------------------------------------

/**
 * The URL of database `name` on the server of `url`, created when missing. The CLI runs in a
 * database of its own by default: in the shared one, any service of the real runtime that is
 * running (someone's benchmark) has its relay publish this run's outbox rows to Kafka, and its
 * consumers then take part of this run's events (seen: ~10% of them), which disturbs both runs.
 */
async function ensureDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--database: ${JSON.stringify(name)} is not a plain lower-case name`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  const { sql } = connect(url, { max: 1, application: "direct-bench" });
  try {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${name}`;
    if (row?.n === 0) {
      try {
        await sql.unsafe(`create database "${name}"`);
      } catch (err) {
        if ((err as { code?: unknown }).code !== "42P04") throw err; // created meanwhile by another run
      }
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return target.toString();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolvePath(process.argv[1])) {
  const opts = new Command()
    .name("bench-direct")
    .option("--n <n>", "subscribers", "1000")
    .option("--database <name>", "database on DATABASE_URL's server, created when missing; `fiber` (the shared one) only with no services running anywhere", "fiber_direct")
    .option("--waves <w>", "feed the orders in this many waves, one per round (see DirectOptions.waves)", "1")
    .option("--verbose", "print every round")
    .parse()
    .opts<{ n: string; database: string; waves: string; verbose?: boolean }>();
  const N = Number(opts.n);
  const config = loadConfig({});
  const databaseUrl = await ensureDatabase(config.DATABASE_URL, opts.database);
  const tenant = `direct-${Date.now().toString(36)}`;
  // As scripts/bench.ts: one ONU per order, /16 IPv4, /64 IPv6, /36 PD delegating /56.
  const t0 = Date.now();
  await setupTenants(databaseUrl, [benchTenant(tenant, N)]);
  console.log(`tenant ${tenant} in database ${opts.database}: ${N} ONUs, /16 + /64 + /36 pools set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const orders = benchOrders(tenant, 0, N);
  const verbose = opts.verbose === true;
  const r = await benchDirect({
    databaseUrl,
    tenant,
    orders,
    waves: Number(opts.waves),
    log: (s) => {
      if (verbose || !s.startsWith("round ")) console.log(`  ${s}`);
    },
  });
  console.log(`direct: ${r.subscribers} subscribers in ${r.seconds.toFixed(1)} s: ${r.perSecond.toFixed(1)} subscribers/s (completed ${r.completed}, failed ${r.failed})`);
  if (r.completed !== N) process.exitCode = 1;
}
