// Kafka helpers for tests: unique topics, a collecting consumer in its own group, waiting for
// observed outcomes instead of sleeping.
import { Kafka, logLevel, type KafkaMessage } from "kafkajs";
import { testEnv } from "./env.js";

export const testKafka = new Kafka({ clientId: "tests", brokers: testEnv.KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING });

export async function createTopics(names: readonly string[], partitions = 3): Promise<void> {
  const admin = testKafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: names.map((topic) => ({ topic, numPartitions: partitions })) });
  } finally {
    await admin.disconnect();
  }
}

export interface Collected {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/** Consumes `topic` from the beginning in a fresh group, keeping every message seen. */
export async function collector(topic: string, groupId: string) {
  const seen: Collected[] = [];
  const consumer = testKafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      seen.push({ topic: t, partition, message });
    },
  });
  return {
    seen,
    async waitFor(count: number, timeoutMs = 30_000): Promise<Collected[]> {
      await waitUntil(() => seen.length >= count, timeoutMs, () => `${seen.length} of ${count} messages on ${topic}`);
      return seen;
    },
    stop: () => consumer.disconnect(),
  };
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const header = (m: KafkaMessage, name: string): string | undefined => {
  const v = m.headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
};
