// Watches a topic from "now" on (the high watermarks when the watch starts), decoding every
// message through the registry, so a test sees only what happens after it starts, however much
// history the topic holds.
import type { KafkaMessage } from "kafkajs";
import { loadCatalog } from "../../schemas/catalog.js";
import type { EventName, Message } from "../../schemas/generated/events.js";
import { createCodec } from "../../shared/codec.js";
import { testEnv, runId } from "./env.js";
import { testKafka, waitUntil } from "./kafka.js";

export const testCodec = createCodec(testEnv, loadCatalog());

export interface Seen {
  readonly message: Message;
  readonly raw: KafkaMessage;
  readonly partition: number;
}

export interface Watch {
  readonly seen: Seen[];
  /** Messages whose subscriber id (or order id for order status) is `id`, in topic order. */
  about(id: string): Message[];
  /** Waits until `predicate` holds for the messages about `id`; returns them. */
  waitFor(id: string, predicate: (ms: Message[]) => boolean, timeoutMs?: number): Promise<Message[]>;
  /** Waits until a message of `type` about `id` arrived; returns it. */
  waitForType<K extends EventName>(id: string, type: K, timeoutMs?: number): Promise<Message<K>>;
  stop(): Promise<void>;
}

const idOf = (m: Message): string[] => {
  const ids = [m.meta.subscriber_id ?? "", m.meta.correlation_id];
  if ("order_id" in m.data) ids.push(m.data.order_id);
  return ids;
};

export async function watch(topic: string): Promise<Watch> {
  const admin = testKafka.admin();
  await admin.connect();
  const marks = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const seen: Seen[] = [];
  const consumer = testKafka.consumer({ groupId: `watch-${runId()}`, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      try {
        seen.push({ message: (await testCodec.decode(message.value)).message, raw: message, partition });
      } catch {
        /* not ours to judge here: the services' DLQ tests cover poison */
      }
    },
  });
  for (const m of marks) consumer.seek({ topic, partition: m.partition, offset: m.high });
  const about = (id: string) => seen.filter((s) => idOf(s.message).includes(id)).map((s) => s.message);
  const waitFor = async (id: string, predicate: (ms: Message[]) => boolean, timeoutMs = 60_000): Promise<Message[]> => {
    await waitUntil(() => predicate(about(id)), timeoutMs, () => `events about ${id}; so far: ${about(id).map((m) => m.type).join(", ") || "none"}`);
    return about(id);
  };
  return {
    seen,
    about,
    waitFor,
    async waitForType<K extends EventName>(id: string, type: K, timeoutMs = 60_000) {
      const ms = await waitFor(id, (list) => list.some((m) => m.type === type), timeoutMs);
      return ms.find((m) => m.type === type) as Message<K>;
    },
    stop: () => consumer.disconnect(),
  };
}
