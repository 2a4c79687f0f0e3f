// The inbox and outbox every service keeps in its own PostgreSQL schema. A service's drizzle
// schema file spreads `runtimeTables(<schema>)` into its exports so drizzle-kit generates them.
import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, jsonb, pgSchema, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export function runtimeTables(schemaName: string) {
  const schema = pgSchema(schemaName);
  /** Every consumed event, by consumer: a redelivery finds its row and becomes a no-op. */
  const inbox = schema.table(
    "inbox",
    {
      consumer: text("consumer").notNull(),
      eventId: text("event_id").notNull(),
      type: text("type").notNull(),
      topic: text("topic").notNull(),
      partition: integer("partition").notNull(),
      offset: bigint("offset", { mode: "bigint" }).notNull(),
      processedAt: timestamp("processed_at", { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.consumer, t.eventId] })],
  );
  /** Events to publish, written in the same transaction as the change that caused them. */
  const outbox = schema.table(
    "outbox",
    {
      id: bigserial("id", { mode: "bigint" }).primaryKey(),
      eventId: text("event_id").notNull().unique(),
      topic: text("topic").notNull(),
      key: text("key").notNull(),
      type: text("type").notNull(),
      meta: jsonb("meta").notNull(),
      data: jsonb("data").notNull(),
      headers: jsonb("headers").$type<Record<string, string>>().notNull(),
      createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
      publishedAt: timestamp("published_at", { withTimezone: true }),
    },
    (t) => [index("outbox_unpublished").on(t.id).where(sql`${t.publishedAt} is null`)],
  );
  return { schema, inbox, outbox };
}

export type RuntimeTables = ReturnType<typeof runtimeTables>;

/**
 * What a service knows of each subscriber: the shared view (subscriber-view.ts) and the
 * service's own decisions, as jsonb, loaded and saved in bulk per batch (reactor.ts), with the
 * topic position they stand at. A service
 * whose decisions depend on the view spreads this into its drizzle schema.
 */
export function subscriberStateTable(schema: RuntimeTables["schema"]) {
  return schema.table(
    "subscriber_state",
    {
      tenantId: text("tenant_id").notNull(),
      subscriberId: text("subscriber_id").notNull(),
      view: jsonb("view"),
      state: jsonb("state"),
      /**
       * Where in the topic the stored state stands: the partition and offset of the last event
       * folded into it. A redelivered event at or below it is already in the state (reactor.ts).
       */
      atPartition: integer("at_partition"),
      atOffset: bigint("at_offset", { mode: "bigint" }),
      updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
  );
}

export type SubscriberStateTable = ReturnType<typeof subscriberStateTable>;
