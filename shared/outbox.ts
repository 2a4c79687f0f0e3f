// Inbox and outbox: the exactly-once-effect unit of work of every handler.
// In one PostgreSQL transaction: record the event id in the inbox (a redelivery finds it and
// does nothing), apply the change, and write the outgoing events to the outbox. The relay
// (relay.ts) publishes the outbox after commit; NOTIFY wakes it at once.
import { sql } from "drizzle-orm";
import type { Catalog } from "../schemas/catalog.js";
import { eventTopics, type Message } from "../schemas/generated/events.js";
import type { Db } from "./db.js";
import { traceparent } from "./ids.js";
import type { RuntimeTables } from "./runtime-tables.js";
import { topics } from "./topics.js";

/** A drizzle transaction on our PostgreSQL connection. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface Outgoing {
  readonly message: Message;
  /** Defaults to the topic the contract gives the event type. */
  readonly topic?: string;
  /** Defaults to the subscriber id (order id on crm.order-status). */
  readonly key?: string;
}

export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly headers: Readonly<Record<string, string>>;
}

export const outboxChannel = (schema: string): string => `${schema}_outbox`;

export function defaultKey(message: Message, topic: string): string {
  if (topic === topics.orderStatus && "order_id" in message.data) return message.data.order_id;
  if (message.type === "ProvisionOrderPlaced") return message.data.crm_reference;
  return message.meta.subscriber_id ?? message.meta.correlation_id;
}

/** Kafka headers for an outgoing event, so Kafka UI can filter and a tracer can follow. */
export function eventHeaders(message: Message, incomingTraceparent?: string): Record<string, string> {
  const h: Record<string, string> = {
    "event-type": message.type,
    "event-id": message.meta.event_id,
    "correlation-id": message.meta.correlation_id,
    "tenant-id": message.meta.tenant_id,
    producer: message.meta.producer,
    traceparent: traceparent(message.meta.correlation_id, incomingTraceparent),
  };
  if (message.meta.causation_id) h["causation-id"] = message.meta.causation_id;
  if (message.meta.subscriber_id) h["subscriber-id"] = message.meta.subscriber_id;
  return h;
}

/** Validates against the contract now, so a bad event fails its handler instead of blocking the relay. */
function checkContract(catalog: Catalog, message: Message): void {
  const schema = catalog.byName.get(message.type);
  if (!schema) throw new Error(`event type ${message.type} is not in the contract`);
  const problems: string[] = [];
  const record = { meta: message.meta, ...message.data };
  if (!schema.type.isValid(record, { errorHook: (path, value) => problems.push(`${path.join(".")}=${JSON.stringify(value)}`) })) {
    throw new Error(`${message.type} does not match its schema: ${problems.join(", ")}`);
  }
}

/** Writes events to the outbox inside `tx` and wakes the relay when `tx` commits. */
export async function enqueue(
  tx: Tx,
  tables: RuntimeTables,
  catalog: Catalog,
  outgoing: readonly Outgoing[],
  incomingTraceparent?: string,
): Promise<void> {
  if (outgoing.length === 0) return;
  const rows = outgoing.map(({ message, topic, key }) => {
    checkContract(catalog, message);
    const t = topic ?? eventTopics[message.type];
    return {
      eventId: message.meta.event_id,
      topic: t,
      key: key ?? defaultKey(message, t),
      type: message.type,
      meta: message.meta,
      data: message.data,
      headers: eventHeaders(message, incomingTraceparent),
    };
  });
  await tx.insert(tables.outbox).values(rows);
  await tx.execute(sql`select pg_notify(${outboxChannel(tables.schema.schemaName)}, '')`);
}

export type Outcome = "applied" | "duplicate";

/**
 * Runs `work` once per (consumer, event id): inbox row, the change, and the outbox in one
 * transaction. A redelivered event returns "duplicate" and changes nothing.
 */
export async function processOnce(
  db: Db,
  tables: RuntimeTables,
  catalog: Catalog,
  consumer: string,
  incoming: Message,
  delivery: Delivery,
  work: (tx: Tx) => Promise<readonly Outgoing[]>,
): Promise<Outcome> {
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(tables.inbox)
      .values({
        consumer,
        eventId: incoming.meta.event_id,
        type: incoming.type,
        topic: delivery.topic,
        partition: delivery.partition,
        offset: BigInt(delivery.offset),
      })
      .onConflictDoNothing()
      .returning({ eventId: tables.inbox.eventId });
    if (inserted.length === 0) return "duplicate";
    const outgoing = await work(tx);
    await enqueue(tx, tables, catalog, outgoing, delivery.headers.traceparent);
    return "applied";
  });
}
