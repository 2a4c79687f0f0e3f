// The billing service's PostgreSQL schema: its inbox/outbox, prices per tenant and plan, the
// billing service records, and what it knows of each subscriber. Every table carries tenant_id;
// every query filters on it.
import { date, index, integer, jsonb, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { runtimeTables, subscriberStateTable } from "../../../shared/runtime-tables.js";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import type { BillingState, BillingStatus } from "../decide.js";

export const { schema, inbox, outbox } = runtimeTables("billing");
export const subscriberState = subscriberStateTable(schema);

export const prices = schema.table(
  "prices",
  {
    tenantId: text("tenant_id").notNull(),
    planId: text("plan_id").notNull(),
    /** In the currency's minor unit (cents), so no float ever touches money. */
    monthlyPriceCents: integer("monthly_price_cents").notNull(),
    currency: text("currency").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.planId] })],
);

export const billingServices = schema.table(
  "billing_services",
  {
    serviceId: text("service_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    planId: text("plan_id").notNull(),
    /** The current plan and its price (the history is in plan_periods). */
    monthlyPriceCents: integer("monthly_price_cents").notNull(),
    currency: text("currency").notNull(),
    status: text("status").$type<BillingStatus>().notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (t) => [index("billing_services_subscriber").on(t.tenantId, t.subscriberId)],
);

/**
 * The plan history of a billing service: which plan (and price) is charged from which day. The
 * open period (ends_on null) is the current one; a plan change ends it the day before the new
 * one starts.
 */
export const planPeriods = schema.table(
  "plan_periods",
  {
    tenantId: text("tenant_id").notNull(),
    serviceId: text("service_id").notNull(),
    startsOn: date("starts_on", { mode: "string" }).notNull(),
    endsOn: date("ends_on", { mode: "string" }),
    planId: text("plan_id").notNull(),
    monthlyPriceCents: integer("monthly_price_cents").notNull(),
    currency: text("currency").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.serviceId, t.startsOn] })],
);

/** Per subscriber: the lifecycle view (evolveView) and billing's own decisions. */
export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    view: jsonb("view").$type<SubscriberView>().notNull(),
    state: jsonb("state").$type<BillingState>().notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
);
