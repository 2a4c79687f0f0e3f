// Wires one service: config, logging, PostgreSQL and its migrations, the registry codec, the
// idempotent producer, the outbox relay, the consumer runner, the health endpoints and its routes
// behind the operator-token check; and shuts them down in the order that loses nothing on
// SIGTERM / SIGINT.
import type { Kafka, Producer } from "kafkajs";
import type { z } from "zod";
import { loadCatalog, type Catalog } from "../schemas/catalog.js";
import { authenticator, guardRoutes, tokenCache, type ApiRoutes } from "./access/guard.js";
import { findToken, migrateAccess } from "./access/store.js";
import { createCodec, type Codec } from "./codec.js";
import { loadConfig, type BaseConfig } from "./config.js";
import { startConsumer, type BatchReactor, type RunningConsumer } from "./consumer.js";
import { connect, migrateSchema, type Db, type Sql } from "./db.js";
import { credentialsRefused, isTransient } from "./errors.js";
import { claimGroupIdentity, processLockSession, type GroupIdentity } from "./membership.js";
import { onParentGone } from "./parent.js";
import { startHealthServer, type HealthServer, type RouteHandler } from "./health.js";
import { newId } from "./ids.js";
import { createKafka, createProducer } from "./kafka.js";
import { createLogger, type Logger } from "./logger.js";
import type { EventContext } from "./messages.js";
import { startRelay, type Relay } from "./relay.js";
import type { RuntimeTables } from "./runtime-tables.js";
import { dlqTopic } from "./topics.js";

export interface ServiceDeps<C extends BaseConfig = BaseConfig> {
  readonly name: string;
  readonly config: C;
  readonly logger: Logger;
  readonly sql: Sql;
  readonly db: Db;
  readonly kafka: Kafka;
  readonly codec: Codec;
  readonly catalog: Catalog;
  readonly producer: Producer;
  readonly relay: Relay;
  readonly tables: RuntimeTables;
  /** Ids and clock for decisions. */
  readonly ctx: EventContext;
}

export interface ServiceDefinition<S extends z.ZodRawShape> {
  /** Service name: its PostgreSQL schema, consumer group and DLQ topic. */
  readonly name: string;
  readonly tables: RuntimeTables;
  readonly migrationsFolder: string;
  readonly consumes: readonly string[];
  readonly config: S;
  /** How the service reacts to a batch of one partition (shared/reactor.ts builds these). */
  readonly reactor: (deps: ServiceDeps<BaseConfig & z.infer<z.ZodObject<S>>>) => BatchReactor;
  /** The service's HTTP routes; every request reaches them only with a valid operator token (shared/access). */
  readonly routes?: (deps: ServiceDeps<BaseConfig & z.infer<z.ZodObject<S>>>) => ApiRoutes;
  /** Work that runs beside the consumer (e.g. a deadline sweep); stopped before the consumer. */
  readonly background?: (deps: ServiceDeps<BaseConfig & z.infer<z.ZodObject<S>>>) => { stop(): Promise<void> };
}

export interface RunningService<C extends BaseConfig = BaseConfig> {
  readonly deps: ServiceDeps<C>;
  readonly health: HealthServer;
  readonly consumer: RunningConsumer;
  stop(): Promise<void>;
}

/** What to check when a dependency refuses the credentials. */
const credentialVariables: Record<string, string> = {
  kafka: "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD",
  "schema registry": "SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD",
};

/** Thrown by runService when its start-up was abandoned (a signal while it waited for a dependency). */
export class StartupAbandoned extends Error {
  override readonly name = "StartupAbandoned";
}

export async function runService<S extends z.ZodRawShape>(
  def: ServiceDefinition<S>,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: { readonly signal?: AbortSignal } = {},
): Promise<RunningService<BaseConfig & z.infer<z.ZodObject<S>>>> {
  const config = loadConfig(def.config, env) as BaseConfig & z.infer<z.ZodObject<S>>;
  const logger = createLogger(def.name, config.LOG_LEVEL);
  const catalog = loadCatalog();
  const startup: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    logger.debug({ step: name }, "start-up step");
    const result = await fn();
    startup[name] = Date.now() - t0;
    return result;
  };
  // The health server answers from the start: /readyz says 503, and which step it waits for,
  // until the service is up; the service's own routes answer once it is.
  let waitingFor: string | undefined = "start-up";
  const live: { consumer?: RunningConsumer; routes?: RouteHandler | undefined } = {};
  const { sql, db } = connect(config.DATABASE_URL, { application: def.name });
  const health = await startHealthServer(
    config.HTTP_HOST,
    config.HTTP_PORT,
    {
      started: () => waitingFor === undefined,
      consumer: () => live.consumer?.isReady() ?? false,
      postgres: async () => (await sql`select 1 as ok`).length === 1,
      // False while a partition waits for a dependency that is away (the service is degraded).
      dependencies: () => live.consumer !== undefined && live.consumer.degraded().length === 0,
    },
    (req, url) => (live.routes ? live.routes(req, url) : Promise.resolve(undefined)),
    () => (waitingFor === undefined ? {} : { waiting_for: waitingFor }),
  );
  /**
   * A start-up step whose dependency is away (PostgreSQL, the registry, Kafka: a transient error)
   * is retried with capped backoff until it succeeds, instead of the process exiting; anything
   * else (a bad configuration, an incompatible schema) ends the start-up.
   */
  const untilAvailable = async <T>(name: string, what: string, fn: () => Promise<T>): Promise<T> => {
    let refused = false; // the last attempt's credentials were refused: /readyz keeps saying so
    for (let attempt = 1; ; attempt++) {
      waitingFor = refused ? `${what} (credentials refused)` : what;
      if (options.signal?.aborted) throw new StartupAbandoned(`start-up abandoned while waiting for ${what}`);
      try {
        return await step(name, fn);
      } catch (err) {
        if (!isTransient(err)) throw err;
        if (options.signal?.aborted) throw new StartupAbandoned(`start-up abandoned while waiting for ${what}`);
        const wait = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
        const refusedBy = credentialsRefused(err);
        refused = refusedBy !== undefined;
        if (refusedBy) {
          // Not a crash loop: the service stays up, not ready, and tries again (the credentials
          // may be being rotated on the server); the line says which variables to check.
          waitingFor = `${what} (credentials refused)`;
          logger.error({ err: err instanceof Error ? err.message : String(err), attempt, retry_in_ms: wait }, `${refusedBy} refused this service's credentials at start-up (check ${credentialVariables[refusedBy] ?? "its credentials"}); not consuming, trying again`);
        } else {
          logger.warn({ err: err instanceof Error ? err.message : String(err), attempt, retry_in_ms: wait }, `${what} unavailable at start-up; waiting for it`);
        }
        await new Promise<void>((resolve) => {
          const onAbort = () => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            options.signal?.removeEventListener("abort", onAbort);
            resolve();
          }, wait);
          options.signal?.addEventListener("abort", onAbort, { once: true });
        });
        if (options.signal?.aborted) throw new StartupAbandoned(`start-up abandoned while waiting for ${what}`);
      }
    }
  };
  const codec = createCodec(config, catalog);
  const kafka = createKafka(config, def.name, logger);
  let producer: Producer | undefined;
  let relay: Relay | undefined;
  let liveProducer: Producer;
  let liveRelay: Relay;
  /** This process's instance id in its consumer group (static membership), held while it lives. */
  const membership: { identity?: GroupIdentity } = {};
  /** Start-up given up (a fatal error, or a signal while waiting): releases what was started. */
  const release = async (): Promise<void> => {
    await relay?.stop().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await membership.identity?.release();
    await health.close();
    await sql.end({ timeout: 1 });
  };
  try {
    await untilAvailable("migrations_ms", "postgres", async () => {
      await migrateSchema(config.DATABASE_URL, def.tables.schema.schemaName ?? def.name, def.migrationsFolder);
      await migrateAccess(config.DATABASE_URL); // the operator tokens every service checks
    });
    // The inbox, outbox and state tables churn: without autovacuum their reads slow down by the day.
    const [vacuum] = await sql<{ autovacuum: string }[]>`show autovacuum`;
    if (vacuum?.autovacuum !== "on") logger.warn("PostgreSQL has autovacuum off: this service's inbox, outbox and state tables will bloat and its reads slow down; turn autovacuum on");
    await untilAvailable("schemas_ms", "schema registry", () => codec.registerAll());
    liveProducer = producer = await untilAvailable("producer_ms", "kafka", () => createProducer(kafka));
    liveRelay = relay = await untilAvailable("relay_ms", "postgres", () => startRelay({ sql, db, tables: def.tables, codec, producer: liveProducer, logger, pollMs: config.OUTBOX_POLL_MS }));
  } catch (err) {
    await release();
    throw err;
  }
  const deps: ServiceDeps<typeof config> = {
    name: def.name,
    config,
    logger,
    sql,
    db,
    kafka,
    codec,
    catalog,
    producer: liveProducer,
    relay: liveRelay,
    tables: def.tables,
    ctx: { producer: def.name, now: () => Date.now(), newId },
  };
  const reactor = def.reactor(deps);
  const groupId = `${def.name}${config.KAFKA_GROUP_SUFFIX}`;
  const identity = config.KAFKA_STATIC_MEMBERSHIP
    ? await untilAvailable("membership_ms", "postgres", () => claimGroupIdentity(processLockSession(config.DATABASE_URL), groupId, logger)).catch(async (err: unknown) => {
        await release();
        throw err;
      })
    : undefined;
  membership.identity = identity;
  const running = await untilAvailable("consumer_ms", "kafka", () => startConsumer({
    kafka,
    producer: liveProducer,
    codec,
    logger,
    service: def.name,
    groupId,
    ...(identity ? { groupInstanceId: () => identity.current() } : {}),
    topics: def.consumes,
    dlqTopic: dlqTopic(def.name),
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    reactor,
    maxBatch: config.CONSUMER_MAX_BATCH,
    maxMessageBytes: config.CONSUMER_MAX_MESSAGE_BYTES,
    stateFlushMs: config.STATE_FLUSH_MS,
    maxDeferred: config.STATE_MAX_DEFERRED,
    retry: {
      maxAttempts: config.HANDLER_MAX_ATTEMPTS,
      initialMs: config.HANDLER_BACKOFF_INITIAL_MS,
      maxMs: config.HANDLER_BACKOFF_MAX_MS,
    },
  })).catch(async (err: unknown) => {
    await release();
    throw err;
  });
  live.consumer = running;
  const tokens = tokenCache((id) => findToken(sql, id), { ttlMs: config.ACCESS_TOKEN_CACHE_MS });
  live.routes = guardRoutes(def.routes?.(deps), authenticator(tokens), logger);
  waitingFor = undefined;
  const background = def.background?.(deps);
  logger.info({ http: `${config.HTTP_HOST}:${health.port}`, consumes: def.consumes, instance: identity?.last() ?? null, ...startup }, "service started");

  let stopped: Promise<void> | undefined;
  return {
    deps,
    health,
    consumer: running,
    stop() {
      stopped ??= (async () => {
        logger.info("stopping: finishing the message in hand");
        await background?.stop();
        await running.stop();
        await identity?.release(); // after leaving the group: the slot is free for the next process
        await liveRelay.drain();
        await liveRelay.stop();
        await liveProducer.disconnect();
        await health.close();
        await sql.end({ timeout: 5 });
        logger.info("stopped");
      })();
      return stopped;
    },
  };
}

/** Entry point for a service's main.ts: run until SIGTERM / SIGINT, exit non-zero on failure. */
export function main<S extends z.ZodRawShape>(def: ServiceDefinition<S>): void {
  // Handlers go in first: a signal during start-up stops the service once it is up.
  let signalled: string | undefined;
  let running: RunningService | undefined;
  const shutdown = (svc: RunningService, signal: string) => {
    svc.deps.logger.info({ signal }, "stopping");
    svc.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        svc.deps.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  const starting = new AbortController();
  const stopOn = (why: string) => {
    if (signalled) return;
    signalled = why;
    if (running) shutdown(running, why);
    else starting.abort(); // a start-up waiting for a dependency gives up; one that gets through stops at once
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stopOn(sig));
  // Started by a launcher (npm run services, the demo, the benchmark): stop when it is gone.
  onParentGone(() => stopOn("launcher gone"));
  runService(def, process.env, { signal: starting.signal }).then(
    (svc) => {
      running = svc as unknown as RunningService;
      if (signalled) shutdown(running, signalled);
    },
    (err: unknown) => {
      if (err instanceof StartupAbandoned) {
        createLogger(def.name).info({ signal: signalled }, err.message);
        process.exit(0);
      }
      // Config errors print as a readable list; anything else with its stack.
      createLogger(def.name).fatal({ err }, err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
