// kafkajs clients: log lines go through pino; producers are idempotent (acks=all, one request
// in flight) so retries neither duplicate nor reorder what we publish.
import { Kafka, logLevel, Partitioners, type LogEntry, type Producer } from "kafkajs";
import type { Logger } from "./logger.js";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

export function createKafka(brokers: readonly string[], clientId: string, logger: Logger): Kafka {
  const log = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 10_000 },
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
  await producer.connect();
  return producer;
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
