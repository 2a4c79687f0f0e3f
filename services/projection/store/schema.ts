// The projection's tables, in the PostgreSQL schema "projection": the runtime's inbox and outbox
// and service_entities, the folded document of each subscriber (see ../fold.ts).
import { index, jsonb, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { runtimeTables } from "../../../shared/runtime-tables.js";
import type { RadiusCoaPart, ServiceMetadataDoc, TimelineEntry } from "../fold.js";

export const { schema, inbox, outbox } = runtimeTables("projection");

export const serviceEntities = schema.table(
  "service_entities",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    status: text("status").notNull(),
    serviceMetadata: jsonb("service_metadata").$type<ServiceMetadataDoc>().notNull(),
    timeline: jsonb("timeline").$type<TimelineEntry[]>().notNull(),
    degradedReasons: jsonb("degraded_reasons").$type<string[]>().notNull().default([]),
    /** The outcome of the last CoA / Disconnect-Request, next to (not inside) service_metadata. */
    radiusCoa: jsonb("radius_coa").$type<RadiusCoaPart>(),
    servicePlanId: text("service_plan_id"),
    lastEventId: text("last_event_id").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] }), index("service_entities_tenant_status").on(t.tenantId, t.status)],
);
