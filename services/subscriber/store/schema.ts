// The subscriber service's own tables, in the PostgreSQL schema `subscriber`.
// Every table carries tenant_id and every query filters by it.
import { sql } from "drizzle-orm";
import { index, integer, jsonb, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import type { Step } from "../../../shared/progress.js";
import { runtimeTables } from "../../../shared/runtime-tables.js";
import type { StoredView, SubscriberView } from "../../../shared/subscriber-view.js";
import type { PendingOrder } from "../decide-order.js";

export const { schema, inbox, outbox } = runtimeTables("subscriber");

/** The tenant's plan catalogue: an order naming a plan that is not here is rejected. */
export const plans = schema.table(
  "plans",
  {
    tenantId: text("tenant_id").notNull(),
    planId: text("plan_id").notNull(),
    name: text("name").notNull(),
    bandwidthMbps: integer("bandwidth_mbps").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.planId] })],
);

/** Last subscriber number handed out per tenant (SUB-000001, SUB-000002, ...). */
export const subscriberNumbers = schema.table("subscriber_numbers", {
  tenantId: text("tenant_id").primaryKey(),
  lastValue: integer("last_value").notNull(),
});

/** One row per accepted provision order: the subscriber, its status and what we know of it. */
export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: uuid("subscriber_id").notNull(),
    subscriberNumber: text("subscriber_number").notNull(),
    orderId: text("order_id").notNull(),
    crmReference: text("crm_reference").notNull(),
    correlationId: text("correlation_id").notNull(),
    /** provisioning | active | failed | rolled_back | suspended | terminating | archived */
    status: text("status").notNull(),
    /** The view in its stored form (shared/subscriber-view.ts storedView); rows written before it hold the view whole. */
    view: jsonb("view").$type<StoredView | SubscriberView>().notNull(),
    /** Steps that reported "skipped" (profile, olt): done, but not a success to undo. */
    skippedSteps: jsonb("skipped_steps").$type<Step[]>().notNull().default([]),
    /** The last lifecycle event seen about this subscriber: the cause of a deadline failure. */
    lastEventId: text("last_event_id").notNull(),
    lastProgressAt: timestamp("last_progress_at", { withTimezone: true }).notNull(),
    /** The lifecycle order (suspend, resume, modify, terminate) in flight, with the answers in so far. */
    pendingOrder: jsonb("pending_order").$type<PendingOrder>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.subscriberId] }),
    // Secondary keys lead with their own columns, not tenant_id: with a new tenant's statistics
    // not yet gathered (a tenant set up and provisioned within a minute), PostgreSQL took any
    // index led by tenant_id for a lookup by another key and read the tenant's rows one by one.
    uniqueIndex("subscribers_tenant_order").on(t.orderId, t.tenantId),
    uniqueIndex("subscribers_tenant_number").on(t.subscriberNumber, t.tenantId),
    index("subscribers_provisioning_since").on(t.lastProgressAt).where(sql`${t.status} = 'provisioning'`),
    // The lifecycle-order deadline sweep: the few rows with an order in flight, oldest first
    // (a termination that stalled already failed its order and waits for its retry).
    index("subscribers_order_in_flight_since").on(t.lastProgressAt).where(sql`${t.pendingOrder} is not null and ${t.pendingOrder}->'stalled' is null`),
  ],
);

/** Accepted lifecycle orders (suspend, resume, modify, terminate): the same order id twice is one order. */
export const lifecycleOrders = schema.table(
  "lifecycle_orders",
  {
    tenantId: text("tenant_id").notNull(),
    orderId: text("order_id").notNull(),
    subscriberId: uuid("subscriber_id").notNull(),
    orderType: text("order_type").notNull(),
    acceptedAt: timestamp("accepted_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.orderId] })],
);

/**
 * Plan changes accepted for a future date, held until then (the deadline sweep releases them on
 * their date, in date order, or fails them when the subscriber is gone).
 */
export const scheduledChanges = schema.table(
  "scheduled_plan_changes",
  {
    tenantId: text("tenant_id").notNull(),
    orderId: text("order_id").notNull(),
    subscriberId: uuid("subscriber_id").notNull(),
    effectiveDate: text("effective_date").notNull(),
    servicePlanId: text("service_plan_id").notNull(),
    bandwidthMbps: integer("bandwidth_mbps").notNull(),
    /** The SubscriberPlanChangeScheduled event and the order's thread: the released request follows them. */
    causeEventId: text("cause_event_id").notNull(),
    correlationId: text("correlation_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.orderId] }), index("scheduled_plan_changes_due").on(t.effectiveDate, t.createdAt)],
);

export type SubscriberRow = typeof subscribers.$inferSelect;
export type PlanRow = typeof plans.$inferSelect;
