// kafkajs clients: made from the configuration (brokers, SASL, TLS: shared/connections.ts), log
// lines through pino; producers are idempotent (acks=all, one request in flight) so retries
// neither duplicate nor reorder what we publish.
import { Kafka, logLevel, Partitioners, type KafkaConfig, type LogEntry, type Producer } from "kafkajs";
import { kafkaSecurity, type KafkaSettings } from "./connections.js";
import { isTransient } from "./errors.js";
import type { Logger } from "./logger.js";

export type { KafkaSettings };

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** The one way a Kafka client is made: every service, script and CLI gets the configured SASL and TLS. */
export function createKafka(
  settings: KafkaSettings,
  clientId: string,
  logger: Logger,
  tuning: Pick<KafkaConfig, "retry" | "connectionTimeout"> = {},
): Kafka {
  const log = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId,
    brokers: [...settings.KAFKA_BROKERS],
    ...kafkaSecurity(settings),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 10_000 },
    ...tuning,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[levels[level] ?? "info"](rest, message);
      },
  });
}

export async function createProducer(kafka: Kafka): Promise<Producer> {
  // An idempotent producer retries without limit (kafkajs warns otherwise): a send either lands
  // once or the caller keeps waiting, and the caller's own retry is never a second copy.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2, as Java clients: a key lands on the same partition whoever produces it.
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 10_000 },
  });
  try {
    await producer.connect();
  } catch (err) {
    await producer.disconnect().catch(() => undefined); // the caller tries again with a new one
    throw err;
  }
  return producer;
}

/**
 * Runs `fn` (a send, a connect) again while Kafka is away (a broker restarting, a connection
 * refused: what isTransient calls transient) until it succeeds or `deadline` (epoch ms) has
 * passed; then throws an error that names `what`, the deadline and the last error. For clients
 * outside a service, which have no start-up wait or relay loop of their own: the CRM stand-in,
 * the demo, the benchmark. kafkajs's own retries give up about 8 s (its defaults) to a minute
 * (createKafka's) into an outage; a send tried again here is a new produce request, so a record
 * whose acknowledgement was lost can land twice: every consumer drops the copy by its event id.
 */
export async function untilKafkaTakes<T>(fn: () => Promise<T>, opts: { readonly deadline: number; readonly logger: Logger; readonly what: string }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (!isTransient(err)) throw err;
      const wait = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5));
      if (Date.now() + wait > opts.deadline) {
        throw new Error(`${opts.what}: Kafka did not answer before the deadline (${new Date(opts.deadline).toISOString()}); last error: ${reason}`, { cause: err });
      }
      opts.logger.warn({ err: reason, attempt, retry_in_ms: wait }, `${opts.what}: Kafka unavailable; trying again`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** Kafka headers as plain strings. */
export function headersToStrings(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) out[k] = Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
  }
  return out;
}
