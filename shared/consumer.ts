// The consumer runner: subscribe, decode through the registry, dispatch by record type, skip
// the types a service does not react to, retry transient errors with capped backoff, and send
// poison to the service's DLQ with its reason and origin; then go on with the next message.
import type { Consumer, EachMessagePayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import type { EventName, Message } from "../schemas/generated/events.js";
import type { Codec } from "./codec.js";
import { isPoison, PoisonMessageError } from "./errors.js";
import { headersToStrings } from "./kafka.js";
import { forEvent, type Logger } from "./logger.js";
import type { Delivery } from "./outbox.js";

export type Handler<K extends EventName = EventName> = (
  message: Message<K>,
  delivery: Delivery,
  log: Logger,
) => Promise<void>;

/** The events a service reacts to, each with its handler; every other type is skipped. */
export type Handlers = { readonly [K in EventName]?: Handler<K> };

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
  readonly handlers: Handlers;
  readonly retry: RetryPolicy;
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
}

export interface RunningConsumer {
  readonly consumer: Consumer;
  readonly isReady: () => boolean;
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

export async function startConsumer(opts: ConsumerOptions): Promise<RunningConsumer> {
  const { kafka, producer, codec, service, retry } = opts;
  const log = opts.logger.child({ component: "consumer", group: opts.groupId });
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.min(3_000, Math.floor((opts.sessionTimeoutMs ?? 30_000) / 3)),
  });
  let ready = false;
  let stopping = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    ready = true;
  });
  consumer.on(consumer.events.CRASH, (e) => {
    ready = false;
    log.error({ err: e.payload.error, restart: e.payload.restart }, "consumer crashed");
  });

  async function toDlq(payload: EachMessagePayload, err: PoisonMessageError, attempts: number): Promise<void> {
    const { topic, partition, message } = payload;
    await producer.send({
      topic: opts.dlqTopic,
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: dlqHeaders({ topic, partition, message }, err, service, attempts),
        },
      ],
    });
    log.warn(
      { code: err.code, reason: err.message, topic, partition, offset: message.offset, dlq: opts.dlqTopic },
      "message sent to the dead letter topic",
    );
  }

  async function eachMessage(payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message } = payload;
    const delivery: Delivery = { topic, partition, offset: message.offset, headers: headersToStrings(message.headers) };
    let decoded: Message;
    for (let attempt = 1; ; attempt++) {
      try {
        decoded = (await codec.decode(message.value)).message;
        break;
      } catch (err) {
        if (isPoison(err)) return toDlq(payload, err, attempt);
        if (stopping || attempt >= retry.maxAttempts) throw err; // registry down: not committed, redelivered later
        log.warn({ err, attempt }, "decode failed, retrying");
        await new Promise((r) => setTimeout(r, backoffMs(attempt, retry)));
        await payload.heartbeat();
      }
    }
    const handler = opts.handlers[decoded.type] as Handler | undefined;
    const elog = forEvent(log, decoded.meta).child({ event_type: decoded.type });
    if (!handler) {
      elog.debug("event type not handled by this service, skipped");
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(decoded, delivery, elog);
        return;
      } catch (err) {
        if (isPoison(err)) return toDlq(payload, err, attempt);
        if (attempt >= retry.maxAttempts) {
          elog.error({ err, attempt }, "handler failed, retries exhausted");
          return toDlq(payload, new PoisonMessageError("retries-exhausted", `handler failed ${attempt} times: ${String(err)}`), attempt);
        }
        // Shutting down: leave the offset uncommitted; the next owner of the partition retries.
        if (stopping) throw err;
        const wait = backoffMs(attempt, retry);
        elog.warn({ err, attempt, retry_in_ms: wait }, "handler failed, retrying");
        await new Promise((r) => setTimeout(r, wait));
        await payload.heartbeat();
      }
    }
  }

  await consumer.connect();
  for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true });
  await consumer.run({ autoCommit: true, partitionsConsumedConcurrently: 1, eachMessage });
  log.info({ topics: opts.topics, handles: Object.keys(opts.handlers) }, "consumer started");

  return {
    consumer,
    isReady: () => ready,
    async stop() {
      stopping = true;
      // disconnect() waits for the message in hand to finish and commits its offset.
      await consumer.disconnect();
      ready = false;
    },
  };
}
