// The olt service's PostgreSQL schema: its inbox/outbox, what it knows of each subscriber, and
// the state of the simulated OLT (OLTs, PON ports, discovered ONUs, service flows, injected
// failures). Every table carries tenant_id; every query filters on it.
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import { runtimeTables, subscriberStateTable } from "../../../shared/runtime-tables.js";
import type { OltState } from "../decide.js";

export const { schema, inbox, outbox } = runtimeTables("olt");
export const subscriberState = subscriberStateTable(schema);

/** Per subscriber: the lifecycle view (evolveView) and the olt service's own decisions. */
export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    view: jsonb("view").$type<SubscriberView>().notNull(),
    state: jsonb("state").$type<OltState>().notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
);

// ---- the simulated OLT ----

export const olts = schema.table(
  "olts",
  {
    tenantId: text("tenant_id").notNull(),
    oltId: text("olt_id").notNull(),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.oltId] })],
);

export const ponPorts = schema.table(
  "pon_ports",
  {
    tenantId: text("tenant_id").notNull(),
    oltId: text("olt_id").notNull(),
    port: text("port").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.oltId, t.port] })],
);

export const onus = schema.table(
  "onus",
  {
    tenantId: text("tenant_id").notNull(),
    serial: text("serial").notNull(),
    oltId: text("olt_id").notNull(),
    ponPort: text("pon_port").notNull(),
    /** ONU number on its PON port, as an OLT assigns it at discovery. */
    onuNumber: integer("onu_number").notNull(),
    onuId: text("onu_id").notNull(),
    state: text("state").$type<"discovered" | "active">().notNull().default("discovered"),
    discoveredAt: timestamp("discovered_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.serial] }),
    // Secondary keys lead with their own columns, not tenant_id: with a new tenant's statistics
    // not yet gathered (a tenant set up and provisioned within a minute), PostgreSQL took any
    // index led by tenant_id for a lookup by another key and read the tenant's rows one by one.
    uniqueIndex("onus_number_on_port").on(t.oltId, t.ponPort, t.onuNumber, t.tenantId),
  ],
);

export const serviceFlows = schema.table(
  "service_flows",
  {
    tenantId: text("tenant_id").notNull(),
    serial: text("serial").notNull(),
    onuId: text("onu_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    sVlan: integer("s_vlan"),
    cVlan: integer("c_vlan"),
    bandwidthMbps: integer("bandwidth_mbps").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  // One flow per ONU: the simulated OLT carries one subscriber service per ONU.
  // (subscriber, tenant): see onus_number_on_port.
  (t) => [
    primaryKey({ columns: [t.tenantId, t.serial] }),
    index("service_flows_subscriber").on(t.subscriberId, t.tenantId),
    // The OLT's check that a QinQ pair carries one subscriber's service.
    index("service_flows_qinq_pair").on(t.tenantId, t.sVlan, t.cVlan).where(sql`${t.cVlan} is not null`),
  ],
);

export const failureInjections = schema.table(
  "failure_injections",
  {
    tenantId: text("tenant_id").notNull(),
    serial: text("serial").notNull(),
    operation: text("operation").$type<"activate" | "deactivate" | "set_bandwidth">().notNull(),
    error: text("error").notNull(),
    /** Failures left before the injection is spent; ignored when permanent. */
    remaining: integer("remaining").notNull().default(1),
    permanent: boolean("permanent").notNull().default(false),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.serial, t.operation] })],
);
