// The consumer runner: subscribe, and for each fetched batch of a partition decode every message
// through the registry, check it belongs on the topic it came on, send poison to the service's
// DLQ with its reason and origin, skip the record types the service does not react to, and hand
// the rest to the service's BatchReactor as one unit of work (one PostgreSQL transaction, see
// outbox.ts). Offsets are committed after that unit commits, and no further than the first
// event whose fold the reactor still holds in memory (deferred states, reactor.ts). Partitions
// are processed concurrently, each in its own order.
//
// The error split (errors.ts):
// - poison (too large, undecodable, unknown, invalid, wrong topic): to the DLQ at once; the rest of the
//   batch goes on without it;
// - transient (a dependency is away): the partition is paused and retried with capped backoff
//   until it succeeds, however long that takes; /readyz reports the service as degraded;
// - anything else: retried the same way, but a message that fails HANDLER_MAX_ATTEMPTS times
//   goes to the DLQ as retries-exhausted.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import { eventTopics, type EventName, type Message } from "../schemas/generated/events.js";
import type { Codec } from "./codec.js";
import { isPoison, isTransient, ItemFailure, PoisonMessageError } from "./errors.js";
import { headersToStrings } from "./kafka.js";
import { forEvent, type Logger } from "./logger.js";
import type { Delivery } from "./outbox.js";

/** One decoded message of a batch, as a reactor sees it. */
export interface Incoming {
  readonly message: Message;
  readonly delivery: Delivery;
  /** A logger carrying the event's ids; built on first use. */
  readonly log: Logger;
}

/**
 * How a service reacts to the messages of one partition batch. `run` is given only the types it
 * `accepts`, in partition order; the runtime wraps it in the unit of work (inbox, outbox, one
 * transaction). An error while handling one item should be thrown as ItemFailure(index, cause),
 * so a poison item can be dead-lettered alone.
 */
export interface BatchReactor {
  accepts(type: EventName, topic: string): boolean;
  run(items: readonly Incoming[]): Promise<void>;
  /** States the reactor holds in memory only (reactor.ts deferredReactor): offsets wait for them. */
  readonly deferred?: DeferredStates | undefined;
}

/**
 * States held in memory because only events that caused nothing changed them. The consumer
 * commits a partition's offset no further than the first event whose fold is held here, and
 * has them written every STATE_FLUSH_MS (or when there are more than STATE_MAX_DEFERRED),
 * before the first unit of work after a rebalance, and on shutdown.
 */
export interface DeferredStates {
  /** The first offset of `topic`/`partition` whose fold is held in memory only, if any. */
  pendingFrom(topic: string, partition: number): bigint | undefined;
  readonly size: () => number;
  /** Writes every held state (one transaction) and forgets them. */
  flush(): Promise<void>;
  /** Forgets every held state without writing it (their events are delivered again). */
  discard(): void;
  /** A rebalance: states kept in memory as written may have been changed by another member since. */
  invalidate(): void;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface ConsumerOptions {
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly codec: Codec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly dlqTopic: string;
  readonly service: string;
  readonly reactor: BatchReactor;
  readonly retry: RetryPolicy;
  /** Most messages handed to one unit of work. */
  readonly maxBatch?: number;
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  /**
   * Static membership: the instance id for each JoinGroup (shared/membership.ts), so a restarted
   * process gets its predecessor's partitions at once. Without it, a dynamic member.
   */
  readonly groupInstanceId?: () => Promise<string | null>;
  /** Topics outside the contract (tests) take any record type; contract topics only their own. */
  readonly contractTopics?: ReadonlySet<string>;
  /** How often the reactor's deferred states are written (STATE_FLUSH_MS). */
  readonly stateFlushMs?: number;
  /** Deferred states held before they are written whatever their age (STATE_MAX_DEFERRED). */
  readonly maxDeferred?: number;
  /** A record value larger than this is poison (`too-large`), before anything decodes it (CONSUMER_MAX_MESSAGE_BYTES). */
  readonly maxMessageBytes?: number;
}

export interface RunningConsumer {
  readonly consumer: Consumer;
  readonly isReady: () => boolean;
  /** Partitions waiting for a dependency that is away (PostgreSQL, the registry, Kafka). */
  readonly degraded: () => readonly string[];
  stop(): Promise<void>;
}

/** Capped exponential backoff with full jitter. */
export const backoffMs = (attempt: number, p: RetryPolicy, random: () => number = Math.random): number =>
  Math.round(random() * Math.min(p.maxMs, p.initialMs * 2 ** (attempt - 1)));

export function dlqHeaders(
  origin: { topic: string; partition: number; message: KafkaMessage },
  err: PoisonMessageError,
  service: string,
  attempts: number,
): Record<string, string> {
  return {
    ...headersToStrings(origin.message.headers),
    "dlq-reason": err.message.slice(0, 2000),
    "dlq-code": err.code,
    "dlq-service": service,
    "dlq-origin-topic": origin.topic,
    "dlq-origin-partition": String(origin.partition),
    "dlq-origin-offset": origin.message.offset,
    "dlq-origin-timestamp": origin.message.timestamp,
    "dlq-attempts": String(attempts),
    "dlq-at": new Date().toISOString(),
  };
}

/** The record type must belong on the topic it arrived on: a forged fact on the wrong topic is poison. */
export function checkTopic(message: Message, topic: string, contractTopics: ReadonlySet<string>): void {
  if (!contractTopics.has(topic)) return;
  const home = eventTopics[message.type];
  if (home !== topic) throw new PoisonMessageError("wrong-topic", `${message.type} belongs on ${home}, not on ${topic}`);
}

/**
 * Text PostgreSQL cannot store (jsonb refuses NUL and unpaired surrogates, which Avro strings
 * may carry) is poison at the door: found later, it would fail a write of held states that no
 * single event can be blamed for.
 */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkStorable(value: unknown, path = ""): void {
  if (typeof value === "string") {
    if (value.includes("\u0000") || loneSurrogate.test(value)) throw new PoisonMessageError("invalid", `${path || "a field"} holds text PostgreSQL cannot store (NUL or an unpaired surrogate)`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkStorable(v, `${path}[${i}]`));
    return;
  }
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) for (const [k, v] of Object.entries(value)) checkStorable(v, path ? `${path}.${k}` : k);
}

const levels = new Set<string | symbol>(["trace", "debug", "info", "warn", "error", "fatal"]);
const noop = (): void => {};

/**
 * A logger carrying the event's ids, built on first use (most events log nothing); a call at a
 * level that is off builds nothing (a pino child costs more than most handlers' work).
 */
export const lazyLog = (base: Logger, message: Message): Logger => {
  let log: Logger | undefined;
  return new Proxy({} as Logger, {
    get(_t, prop) {
      if (log === undefined && typeof prop === "string" && levels.has(prop) && !base.isLevelEnabled(prop)) return noop;
      log ??= forEvent(base, message.meta).child({ event_type: message.type });
      const v = (log as unknown as Record<string | symbol, unknown>)[prop];
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(log) : v;
    },
  });
};

/** A query error carries the whole statement and its parameters (events, personal data): log the database's error. */
const forLog = (err: unknown): unknown => (err instanceof Error && err.name === "DrizzleQueryError" && err.cause ? err.cause : err);

/** Thrown by runChunk once the failure is recorded in `failing`: the partition pauses. */
class RetryLater {
  constructor(readonly cause: unknown) {}
}

interface Pending {
  readonly raw: KafkaMessage;
  readonly item: Incoming | null; // null: skipped (a type the service does not react to)
}

export async function startConsumer(opts: ConsumerOptions): Promise<RunningConsumer> {
  const { kafka, producer, codec, service, retry, reactor } = opts;
  const maxBatch = opts.maxBatch ?? 500;
  const maxMessageBytes = opts.maxMessageBytes ?? 512 * 1024;
  const contractTopics = opts.contractTopics ?? new Set(Object.values(eventTopics));
  const log = opts.logger.child({ component: "consumer", group: opts.groupId });
  const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout,
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    maxWaitTimeInMs: 1_000,
    ...(opts.groupInstanceId ? { groupInstanceId: opts.groupInstanceId } : {}),
  });
  let ready = false;
  let stopping = false;
  /** Per partition: attempts of the message that keeps failing, and whether it is waiting on a dependency. */
  const failing = new Map<string, { offset: string; attempts: number; transient: boolean; single?: boolean }>();
  const resumeTimers = new Set<NodeJS.Timeout>();

  // Offsets are committed here, not by kafkajs: a partition's offset goes no further than the
  // first event whose fold the reactor holds in memory only (deferred states), so a crash
  // delivers that event again.
  const deferred = reactor.deferred;
  const maxDeferred = opts.maxDeferred ?? 20_000;
  /** Per partition: the offset after the last message handled. */
  const positions = new Map<string, { readonly topic: string; readonly partition: number; readonly next: bigint }>();
  const committedAt = new Map<string, bigint>();
  let lastCommit = 0;
  let commits: Promise<void> = Promise.resolve();
  let statesDue = false;
  let rebalanced = false;

  function commitSafe(): Promise<void> {
    commits = commits.then(async () => {
      lastCommit = Date.now();
      const list: Array<{ key: string; topic: string; partition: number; target: bigint }> = [];
      for (const [key, p] of positions) {
        const pending = deferred?.pendingFrom(p.topic, p.partition);
        const target = pending !== undefined && pending < p.next ? pending : p.next;
        if ((committedAt.get(key) ?? -1n) >= target) continue;
        list.push({ key, topic: p.topic, partition: p.partition, target });
      }
      if (list.length === 0) return;
      try {
        await consumer.commitOffsets(list.map((c) => ({ topic: c.topic, partition: c.partition, offset: String(c.target) })));
        for (const c of list) committedAt.set(c.key, c.target);
      } catch (err) {
        // A rebalance (the generation moved on) or Kafka away: the next commit carries them.
        log.warn({ err }, "offset commit failed; the next commit retries it");
      }
    });
    return commits;
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    ready = true;
    const partitions = Object.values(e.payload.memberAssignment).reduce((n, list) => n + list.length, 0);
    log.info({ member: e.payload.memberId, partitions, duration_ms: e.payload.duration }, "joined the consumer group");
    // A new generation: kafkajs starts each partition again from its committed offset, and
    // partitions may have moved. Held states are written before the next unit of work, so none
    // can outlive its partition going to another member and coming back.
    committedAt.clear();
    const assigned = e.payload.memberAssignment;
    for (const [key, p] of positions) if (!assigned[p.topic]?.includes(p.partition)) positions.delete(key);
    if (deferred) {
      deferred.invalidate();
      rebalanced = true;
      requestStates();
    }
  });
  consumer.on(consumer.events.CRASH, (e) => {
    ready = false;
    log.error({ err: e.payload.error, restart: e.payload.restart }, "consumer crashed");
  });

  async function toDlq(topic: string, partition: number, message: KafkaMessage, err: PoisonMessageError, attempts: number): Promise<void> {
    // The original bytes, unless they are too large to pass through Kafka again: then their
    // first maxMessageBytes (the record itself stays in its topic, at the origin offset).
    const size = message.value?.length ?? 0;
    const value = size > maxMessageBytes ? (message.value?.subarray(0, maxMessageBytes) ?? null) : message.value;
    const headers = dlqHeaders({ topic, partition, message }, err, service, attempts);
    if (size > maxMessageBytes) headers["dlq-value-truncated-from"] = String(size);
    await producer.send({ topic: opts.dlqTopic, acks: -1, messages: [{ key: message.key, value, headers }] });
    log.warn({ code: err.code, reason: err.message, topic, partition, offset: message.offset, dlq: opts.dlqTopic }, "message sent to the dead letter topic");
  }

  /** Decodes one message; poison goes to the DLQ and yields null. A registry that is away throws (transient). */
  async function decode(topic: string, partition: number, raw: KafkaMessage): Promise<Pending | null> {
    let message: Message;
    try {
      const size = raw.value?.length ?? 0;
      if (size > maxMessageBytes) throw new PoisonMessageError("too-large", `the record value is ${size} bytes; at most ${maxMessageBytes} are accepted (CONSUMER_MAX_MESSAGE_BYTES)`);
      message = (await codec.decode(raw.value)).message;
      checkTopic(message, topic, contractTopics);
      checkStorable(message.data, "data");
      checkStorable(message.meta, "meta");
    } catch (err) {
      if (!isPoison(err)) throw err;
      await toDlq(topic, partition, raw, err, 1);
      return null;
    }
    if (!reactor.accepts(message.type, topic)) return { raw, item: null };
    const delivery: Delivery = { topic, partition, offset: raw.offset, headers: headersToStrings(raw.headers) };
    return { raw, item: { message, delivery, log: lazyLog(log, message) } };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, pause, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const key = `${topic}:${partition}`;
    let messages = batch.messages;
    while (messages.length > 0 && isRunning() && !isStale() && !stopping) {
      const chunk = messages.slice(0, failing.get(key)?.single ? 1 : maxBatch);
      try {
        const pending: Pending[] = [];
        for (const raw of chunk) {
          const p = await decode(topic, partition, raw);
          if (p) pending.push(p);
        }
        await grouped({ topic, partition, key, pending });
      } catch (err) {
        // Not handled by dead-lettering: pause this partition (others go on) and come back to the
        // first message not yet resolved after a backoff. kafkajs fetches from the resolved offset.
        if (!(err instanceof RetryLater)) {
          // Decoding failed for a reason other than poison: the registry is away.
          failing.set(key, { offset: "", attempts: (failing.get(key)?.attempts ?? 0) + 1, transient: isTransient(err) });
        }
        const state = failing.get(key);
        const attempts = state?.attempts ?? 1;
        const transient = state?.transient ?? false;
        const cause = err instanceof RetryLater ? err.cause : err;
        const wait = backoffMs(Math.min(attempts, 20), retry);
        (transient ? log.warn : log.error).call(
          log,
          { err: forLog(cause), topic, partition, attempts, transient, retry_in_ms: wait },
          transient ? "a dependency is unavailable: partition paused, retrying" : "batch failed: partition paused, retrying",
        );
        if (stopping) return;
        const resume = pause();
        const timer = setTimeout(() => {
          resumeTimers.delete(timer);
          resume();
        }, wait);
        resumeTimers.add(timer);
        return;
      }
      const last = chunk.at(-1);
      if (last) {
        resolveOffset(last.offset);
        positions.set(key, { topic, partition, next: BigInt(last.offset) + 1n });
      }
      if (Date.now() - lastCommit >= 1_000) await commitSafe();
      await heartbeat();
      messages = messages.slice(chunk.length);
    }
  }

  interface Job {
    readonly topic: string;
    readonly partition: number;
    readonly key: string;
    readonly pending: Pending[];
  }
  const queue: Array<{ job: Job; done: (err?: unknown) => void }> = [];
  let flushing = false;

  /**
   * Group commit: the chunks of every partition that arrive while a unit of work runs are run
   * together in the next one, so one fetch of six partitions costs one transaction, not six, and
   * one service never has two units of work contending for the same rows. A group that fails is
   * run again one chunk at a time, where a poison item can be dead-lettered and a partition
   * paused without holding back the others.
   */
  function grouped(job: Job): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ job, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!flushing) void flush();
    });
  }

  /** Asks the unit-of-work loop to write the deferred states before its next unit. */
  function requestStates(): void {
    statesDue = true;
    if (!flushing) void flush();
  }

  async function writeStates(): Promise<void> {
    statesDue = false;
    const afterRebalance = rebalanced;
    rebalanced = false;
    if (!deferred) return;
    try {
      await deferred.flush();
    } catch (err) {
      (isTransient(err) ? log.warn : log.error).call(log, { err: forLog(err), held: deferred.size() }, "writing deferred states failed; retrying later");
      if (afterRebalance) {
        // A held state must not outlive a rebalance: its partition may have had another owner
        // meanwhile. Nothing is lost by dropping them: the committed offsets stop before every
        // held event, and the group starts each partition again from there. Each partition's
        // position goes back to its first held event too: the positions are still those of the
        // last generation, and committing one of them once the states are gone would put the
        // held events behind the offset for good (seen with PostgreSQL down across a rebalance:
        // a SubscriberCreated skipped, the next IpAllocated then dead-lettered as invalid).
        for (const [key, p] of positions) {
          const held = deferred.pendingFrom(p.topic, p.partition);
          if (held !== undefined && held < p.next) positions.set(key, { ...p, next: held });
        }
        log.warn({ held: deferred.size() }, "deferred states dropped after a rebalance; their events are folded again");
        deferred.discard();
      }
      // Otherwise retried at the next interval; meanwhile the offsets stay behind the held states.
      return;
    }
    await commitSafe();
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      for (;;) {
        if (deferred && (statesDue || deferred.size() > maxDeferred)) await writeStates();
        if (queue.length === 0) break;
        const taken = queue.splice(0);
        const byTopic = new Map<string, typeof taken>();
        for (const t of taken) byTopic.set(t.job.topic, [...(byTopic.get(t.job.topic) ?? []), t]);
        for (const group of byTopic.values()) {
          const items = group.flatMap((g) => g.job.pending.flatMap((p) => (p.item ? [p.item] : [])));
          let together = group.length > 1 && items.length > 0;
          if (together) {
            try {
              await reactor.run(items);
            } catch {
              together = false;
            }
          }
          if (together) {
            for (const g of group) {
              failing.delete(g.job.key);
              g.done();
            }
            continue;
          }
          for (const g of group) {
            try {
              await runChunk(g.job.topic, g.job.partition, g.job.key, g.job.pending);
              g.done();
            } catch (err) {
              g.done(err ?? new Error("unit of work failed"));
            }
          }
        }
      }
    } finally {
      flushing = false;
    }
  }

  /**
   * Runs the reactor over one chunk. Poison raised for one item sends that item to the DLQ and
   * runs the chunk again without it; an unknown error for one item is counted against that item
   * and, once it reaches the bound, dead-letters it. Anything else propagates (the partition pauses).
   */
  async function runChunk(topic: string, partition: number, key: string, pending: Pending[]): Promise<void> {
    let items = pending.flatMap((p) => (p.item ? [{ item: p.item, raw: p.raw }] : []));
    for (;;) {
      if (items.length === 0) {
        failing.delete(key);
        return;
      }
      try {
        await reactor.run(items.map((i) => i.item));
        failing.delete(key);
        return;
      } catch (err) {
        const index = err instanceof ItemFailure ? err.index : null;
        const cause = err instanceof ItemFailure ? err.cause : err;
        // A failure no item owns, with one item left: that item is the culprit.
        const at = index ?? (items.length === 1 ? 0 : null);
        const culprit = at !== null ? items[at] : undefined;
        if (culprit && isPoison(cause)) {
          await toDlq(topic, partition, culprit.raw, cause, 1);
          items = items.filter((_, i) => i !== at);
          continue;
        }
        if (isTransient(cause)) {
          failing.set(key, { offset: culprit?.raw.offset ?? "", attempts: (failing.get(key)?.attempts ?? 0) + 1, transient: true });
          throw new RetryLater(cause);
        }
        if (!culprit) {
          // Nobody to blame yet: after the bound, the partition goes on one message at a time
          // until the message that fails alone is found (and dead-lettered like any other).
          const attempts = (failing.get(key)?.attempts ?? 0) + 1;
          failing.set(key, { offset: "", attempts, transient: false, single: attempts >= retry.maxAttempts });
          throw new RetryLater(cause);
        }
        const before = failing.get(key);
        const attempts = before && before.offset === culprit.raw.offset ? before.attempts + 1 : 1;
        if (attempts >= retry.maxAttempts) {
          culprit.item.log.error({ err: forLog(cause), attempts }, "handler failed, retries exhausted");
          await toDlq(topic, partition, culprit.raw, new PoisonMessageError("retries-exhausted", `handler failed ${attempts} times: ${String(forLog(cause))}`), attempts);
          failing.delete(key);
          items = items.filter((_, i) => i !== at);
          continue;
        }
        failing.set(key, { offset: culprit.raw.offset, attempts, transient: false });
        throw new RetryLater(cause);
      }
    }
  }

  await consumer.connect();
  for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true });
  const statesTimer = deferred && (opts.stateFlushMs ?? 10_000) > 0 ? setInterval(requestStates, opts.stateFlushMs ?? 10_000) : undefined;
  const commitTimer = setInterval(() => void commitSafe(), 1_000);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 16,
    eachBatch,
  });
  log.info({ topics: opts.topics }, "consumer started");

  return {
    consumer,
    isReady: () => ready,
    degraded: () => [...failing].filter(([, s]) => s.transient).map(([k]) => k),
    async stop() {
      stopping = true;
      for (const t of resumeTimers) clearTimeout(t);
      resumeTimers.clear();
      clearInterval(statesTimer);
      clearInterval(commitTimer);
      // The unit of work in hand finishes; then the held states are written and the offsets
      // committed up to what is durable, before the group is left.
      while (flushing) await new Promise((r) => setTimeout(r, 10));
      if (deferred) {
        try {
          await deferred.flush();
        } catch (err) {
          log.error({ err: forLog(err), held: deferred.size() }, "could not write deferred states at shutdown; their events are delivered again");
        }
      }
      await commitSafe();
      await consumer.disconnect();
      ready = false;
    },
  };
}
