// Reads topics from their first offset up to the end they had when the read began: what the
// tools that look back over history need (npm run trace, npm run consistency). A fresh consumer
// group per read, committing nothing, deleted afterwards; the records are handed over raw, in
// partition order, so a caller decodes only those it wants.
import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { headersToStrings } from "./kafka.js";

export interface HistoryRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

export interface HistoryOptions {
  /** Gives up when no record arrives for this long while some partition is not read to its end. */
  readonly stallMs?: number;
}

/**
 * Calls `onRecord` for every record of `topicNames` below the end offsets they had when the read
 * began; returns those end offsets ("topic/partition" → offset). Records of one partition come in
 * offset order.
 */
export async function readHistory(
  kafka: Kafka,
  topicNames: readonly string[],
  onRecord: (record: HistoryRecord) => void | Promise<void>,
  options: HistoryOptions = {},
): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  const pending = new Set<string>();
  try {
    for (const topic of topicNames) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const key = `${topic}/${p.partition}`;
        ends.set(key, BigInt(p.high));
        if (BigInt(p.high) > BigInt(p.low)) pending.add(key);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (pending.size === 0) return ends;

  const groupId = `history-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, maxBytes: 16 * 1024 * 1024 });
  await consumer.connect();
  try {
    for (const topic of topicNames) await consumer.subscribe({ topic, fromBeginning: true });
    const stallMs = options.stallMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      let progress = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - progress > stallMs) {
          clearInterval(watchdog);
          reject(new Error(`reading ${topicNames.join(", ")}: nothing new for ${stallMs} ms with ${[...pending].join(", ")} not read to the end`));
        }
      }, 1_000);
      const done = () => {
        clearInterval(watchdog);
        resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            const key = `${batch.topic}/${batch.partition}`;
            const end = ends.get(key) ?? 0n;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= end) break; // written after the read began
              await onRecord({
                topic: batch.topic,
                partition: batch.partition,
                offset,
                key: m.key?.toString() ?? null,
                value: m.value,
                headers: headersToStrings(m.headers),
              });
              if (offset + 1n >= end) pending.delete(key);
            }
            progress = Date.now();
            await heartbeat();
            if (pending.size === 0) done();
          },
        })
        .catch((err: unknown) => {
          clearInterval(watchdog);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    try {
      await cleanup.connect();
      await cleanup.deleteGroups([groupId]);
    } catch {
      // An empty group Kafka removes by itself after offsets.retention; nothing was committed to it.
    } finally {
      await cleanup.disconnect();
    }
  }
  return ends;
}
