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

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  readonly id: bigint;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
  readonly meta: unknown;
  readonly data: unknown;
  readonly headers: Record<string, string>;
}

/** Where a unit of work hands the rows it wrote once it has committed (the relay, which then need not read them back). */
export interface CommittedRows {
  offer(rows: readonly OutboxRow[]): void;
}

/**
 * Writes events to the outbox inside `tx`, in one statement, and wakes the relay when `tx`
 * commits. Returns the rows with their ids, for the relay once the transaction has committed.
 */
export async function enqueue(
  tx: Tx,
  tables: RuntimeTables,
  catalog: Catalog,
  outgoing: readonly Outgoing[],
  incomingTraceparent?: string | ((o: Outgoing) => string | undefined),
): Promise<OutboxRow[]> {
  if (outgoing.length === 0) return [];
  const rows = outgoing.map((o) => {
    const { message, topic, key } = o;
    checkContract(catalog, message);
    const t = topic ?? eventTopics[message.type];
    const parent = typeof incomingTraceparent === "function" ? incomingTraceparent(o) : incomingTraceparent;
    return {
      event_id: message.meta.event_id,
      topic: t,
      key: key ?? defaultKey(message, t),
      type: message.type,
      meta: message.meta,
      data: message.data,
      headers: eventHeaders(message, parent),
    };
  });
  // One statement for the whole batch; ids follow the array's order (the relay publishes by id).
  // The notify goes out with it (pipelined).
  const [ids] = await Promise.all([
    tx.execute<{ id: string; event_id: string }>(sql`
      insert into ${tables.outbox} (event_id, topic, key, type, meta, data, headers)
      select e.r->>'event_id', e.r->>'topic', e.r->>'key', e.r->>'type', e.r->'meta', e.r->'data', e.r->'headers'
      from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) with ordinality as e(r, ord)
      order by e.ord
      returning id, event_id`),
    tx.execute(sql`select pg_notify(${outboxChannel(tables.schema.schemaName)}, '')`),
  ]);
  const idOf = new Map(ids.map((r) => [r.event_id, BigInt(r.id)]));
  return rows.flatMap((r) => {
    const id = idOf.get(r.event_id);
    return id === undefined ? [] : [{ id, topic: r.topic, key: r.key, type: r.type, meta: r.meta, data: r.data, headers: r.headers }];
  });
}

/** An item of a batch that is new to this consumer, with its index in the batch as given. */
export interface Fresh<T> {
  readonly index: number;
  readonly item: T;
}

type Delivered = { readonly message: Message; readonly delivery: Delivery };

/**
 * Records the items' event ids in the consumer's inbox, in one statement; returns the ids that
 * were not there yet (an id already there is a redelivery).
 */
export async function recordInbox(tx: Tx, tables: RuntimeTables, consumer: string, items: readonly Delivered[]): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const rows = items.map(({ message, delivery }) => ({
    consumer,
    event_id: message.meta.event_id,
    type: message.type,
    topic: delivery.topic,
    partition: delivery.partition,
    offset: delivery.offset,
  }));
  const inserted = await tx.execute<{ event_id: string }>(sql`
    insert into ${tables.inbox} (consumer, event_id, type, topic, partition, "offset")
    select x.consumer, x.event_id, x.type, x.topic, x.partition, x."offset"
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(consumer text, event_id text, type text, topic text, partition int, "offset" bigint)
    on conflict do nothing
    returning event_id`);
  return new Set(inserted.map((r) => r.event_id));
}

/** Writes the reactions to `items` to the outbox, each with the traceparent of the event that caused it. */
export function enqueueFor(tx: Tx, tables: RuntimeTables, catalog: Catalog, outgoing: readonly Outgoing[], items: readonly Delivered[]): Promise<OutboxRow[]> {
  const parentOf = new Map(items.map(({ message, delivery }) => [message.meta.event_id, delivery.headers.traceparent]));
  return enqueue(tx, tables, catalog, outgoing, (o) => (o.message.meta.causation_id ? parentOf.get(o.message.meta.causation_id) : undefined));
}

export interface BatchOptions {
  /** false: the work dedupes by itself (a fold that knows the events it has seen), no inbox rows. */
  readonly inbox?: boolean;
  /** Gets the outbox rows written, once the transaction has committed. */
  readonly committedTo?: CommittedRows | undefined;
  /** A write `work` started and left running, awaited with the outbox write (both in the transaction). */
  readonly alongside?: () => Promise<void> | undefined;
}

/**
 * The unit of work of one batch, in one transaction: the inbox rows of every item (one
 * statement; an event id already there, or twice in the batch, is a redelivery and is dropped),
 * `work` over the new items, and its outgoing events in the outbox (one statement). Returns how
 * many items were new.
 */
export async function processBatch<T extends Delivered>(
  db: Db,
  tables: RuntimeTables,
  catalog: Catalog,
  consumer: string,
  items: readonly T[],
  work: (tx: Tx, fresh: readonly Fresh<T>[]) => Promise<readonly Outgoing[]>,
  options: BatchOptions = {},
): Promise<number> {
  if (items.length === 0) return 0;
  let written: OutboxRow[] = [];
  const applied = await db.transaction(async (tx) => {
    const seen = new Set<string>();
    const candidates: Fresh<T>[] = [];
    items.forEach((item, index) => {
      if (seen.has(item.message.meta.event_id)) return;
      seen.add(item.message.meta.event_id);
      candidates.push({ index, item });
    });
    const fresh = options.inbox === false ? null : await recordInbox(tx, tables, consumer, candidates.map((c) => c.item));
    const todo = fresh === null ? candidates : candidates.filter(({ item }) => fresh.has(item.message.meta.event_id));
    if (todo.length === 0) return 0;
    const outgoing = await work(tx, todo);
    const [rows] = await Promise.all([enqueueFor(tx, tables, catalog, outgoing, todo.map((t) => t.item)), options.alongside?.()]);
    written = rows;
    return todo.length;
  });
  if (written.length > 0) options.committedTo?.offer(written);
  return applied;
}
