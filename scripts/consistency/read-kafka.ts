// Reads what the checker compares from the topics: the CRM's orders and their statuses, and the
// lifecycle events the projection folds, from offset 0 to the end each topic had when the read
// began (shared/history.ts); and how far the projection's consumer group has committed. Records
// of other tenants are passed over by their tenant-id header, without decoding.
import type { Kafka } from "kafkajs";
import type { Codec } from "../../shared/codec.js";
import { readHistory } from "../../shared/history.js";
import { topics } from "../../shared/topics.js";
import type { LifecycleRecord, OrderRecord } from "./model.js";

export interface TopicsRead {
  readonly orders: readonly OrderRecord[];
  readonly events: readonly LifecycleRecord[];
  /** Records of the tenant(s) that did not decode (the services dead-letter them). */
  readonly undecodable: number;
}

export async function readTopics(kafka: Kafka, codec: Codec, tenant: string | null): Promise<TopicsRead> {
  const placed = new Map<string, { tenant_id: string; order_id: string; type: string; subscriber_id: string | null; placed_at: number }>();
  const statuses = new Map<string, string[]>();
  /** A provision order names no subscriber; its statuses do, once it was accepted. */
  const subscriberOf = new Map<string, string>();
  const events: LifecycleRecord[] = [];
  let undecodable = 0;
  const orderKey = (t: string, id: string) => `${t}\u0000${id}`;

  await readHistory(kafka, [topics.crmOrders, topics.orderStatus, topics.lifecycle], async (r) => {
    const header = r.headers["tenant-id"];
    if (tenant !== null && header !== undefined && header !== tenant) return;
    let m;
    try {
      m = (await codec.decode(r.value)).message;
    } catch {
      // A record that names no tenant and does not decode is nobody's to count.
      if (tenant === null || header === tenant) undecodable += 1;
      return;
    }
    if (tenant !== null && m.meta.tenant_id !== tenant) return;
    if (r.topic === topics.lifecycle) {
      events.push({ partition: r.partition, offset: r.offset, message: m });
    } else if (r.topic === topics.crmOrders && "order_id" in m.data) {
      const key = orderKey(m.meta.tenant_id, m.data.order_id);
      // The same order id placed twice is one order (the subscriber service dedupes it): the first placing counts.
      if (!placed.has(key)) placed.set(key, { tenant_id: m.meta.tenant_id, order_id: m.data.order_id, type: m.type, subscriber_id: m.meta.subscriber_id ?? null, placed_at: m.meta.occurred_at });
    } else if (r.topic === topics.orderStatus && "order_id" in m.data) {
      const key = orderKey(m.meta.tenant_id, m.data.order_id);
      statuses.set(key, [...(statuses.get(key) ?? []), m.type]);
      if (m.meta.subscriber_id) subscriberOf.set(key, m.meta.subscriber_id);
    }
  });

  const orders = [...placed].map(([key, o]) => ({ ...o, subscriber_id: o.subscriber_id ?? subscriberOf.get(key) ?? null, statuses: statuses.get(key) ?? [] }));
  events.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  return { orders, events, undecodable };
}

/** The group's committed offset per partition of the lifecycle topic (partitions without one are absent). */
export async function committedOffsets(kafka: Kafka, groupId: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topics.lifecycle] });
    const out = new Map<number, bigint>();
    for (const p of offsets?.partitions ?? []) if (BigInt(p.offset) >= 0n) out.set(p.partition, BigInt(p.offset));
    return out;
  } finally {
    await admin.disconnect();
  }
}
