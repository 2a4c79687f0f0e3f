// The benchmark's CRM side: places many orders at once or at a fixed rate, and waits for their
// outcome on crm.order-status.v1, recording when each was placed and when its outcome arrived.
import type { Consumer, Producer } from "kafkajs";
import { loadCatalog } from "../../schemas/catalog.js";
import type { Message } from "../../schemas/generated/events.js";
import { createCodec, type Codec } from "../../shared/codec.js";
import type { BaseConfig } from "../../shared/config.js";
import { createKafka, createProducer, untilKafkaTakes } from "../../shared/kafka.js";
import { createLogger } from "../../shared/logger.js";
import { eventHeaders } from "../../shared/outbox.js";
import { topics } from "../../shared/topics.js";

export interface Outcome {
  readonly type: string;
  readonly at: number;
  readonly subscriberId: string | null;
}

export interface OrderDesk {
  /** Publishes these orders, many per produce request; records each one's time of sending. */
  placeAll(messages: readonly Message[]): Promise<void>;
  /** Publishes one order every 1000/rate ms. */
  placeAtRate(messages: readonly Message[], rate: number): Promise<void>;
  /** Resolves when every one of these order ids has an outcome; rejects after `timeoutMs` without progress. */
  waitFor(orderIds: readonly string[], timeoutMs: number): Promise<void>;
  readonly placed: Map<string, number>;
  readonly outcomes: Map<string, Outcome>;
  close(): Promise<void>;
}

const keyOf = (m: Message): string => (m.type === "ProvisionOrderPlaced" ? m.data.crm_reference : (m.meta.subscriber_id ?? ""));
const orderIdOf = (m: Message): string => ("order_id" in m.data ? String(m.data.order_id) : m.meta.correlation_id);

/** A send rides through a broker restart for up to this long (as the CRM's: scripts/crm.ts). */
const kafkaDeadlineMs = 300_000;

export async function openOrderDesk(config: BaseConfig, groupId: string): Promise<OrderDesk> {
  const logger = createLogger("bench-crm", "error");
  const kafka = createKafka(config, "bench-crm", logger);
  const codec: Codec = createCodec(config, loadCatalog());
  const producer: Producer = await createProducer(kafka);
  const send = (messages: Array<Awaited<ReturnType<typeof encode>>>) =>
    untilKafkaTakes(() => producer.send({ topic: topics.crmOrders, acks: -1, messages }), { deadline: Date.now() + kafkaDeadlineMs, logger, what: "placing orders" });
  const placed = new Map<string, number>();
  const outcomes = new Map<string, Outcome>();
  let progress = Date.now();

  const admin = kafka.admin();
  await admin.connect();
  const marks = await admin.fetchTopicOffsets(topics.orderStatus);
  await admin.disconnect();
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.orderStatus, fromBeginning: false });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const m = (await codec.decode(message.value)).message;
        if (m.type === "OrderCompleted" || m.type === "OrderFailed" || m.type === "OrderRejected") {
          if (!outcomes.has(m.data.order_id)) {
            outcomes.set(m.data.order_id, { type: m.type, at: Date.now(), subscriberId: m.meta.subscriber_id ?? null });
            progress = Date.now();
          }
        }
      }
    },
  });
  for (const m of marks) consumer.seek({ topic: topics.orderStatus, partition: m.partition, offset: m.high });

  const encode = async (m: Message) => ({ key: keyOf(m), value: await codec.encode(topics.crmOrders, m), headers: eventHeaders(m) });

  return {
    placed,
    outcomes,
    async placeAll(messages) {
      const encoded = await Promise.all(messages.map(encode));
      for (let i = 0; i < encoded.length; i += 500) {
        const now = Date.now();
        for (const m of messages.slice(i, i + 500)) placed.set(orderIdOf(m), now);
        await send(encoded.slice(i, i + 500));
      }
    },
    async placeAtRate(messages, rate) {
      const encoded = await Promise.all(messages.map(encode));
      const start = Date.now();
      for (let i = 0; i < messages.length; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const m = messages[i];
        const e = encoded[i];
        if (!m || !e) continue;
        placed.set(orderIdOf(m), Date.now());
        await send([e]);
      }
    },
    async waitFor(orderIds, timeoutMs) {
      progress = Date.now();
      while (orderIds.some((id) => !outcomes.has(id))) {
        if (Date.now() - progress > timeoutMs) {
          const missing = orderIds.filter((id) => !outcomes.has(id));
          throw new Error(`${missing.length} orders without an outcome after ${timeoutMs} ms without progress (e.g. ${missing.slice(0, 3).join(", ")})`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
}
