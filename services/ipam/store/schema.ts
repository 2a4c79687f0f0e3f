// The ipam schema: pools per tenant, their reserved ranges, the free list of released units,
// the allocations (the unique (tenant, family, address) is the last guard against handing a
// unit out twice), and what ipam knows of each subscriber.
import { sql } from "drizzle-orm";
import { bigserial, boolean, check, index, integer, jsonb, numeric, primaryKey, text, timestamp, unique, uniqueIndex } from "drizzle-orm/pg-core";
import { runtimeTables, subscriberStateTable } from "../../../shared/runtime-tables.js";
import type { IpamState } from "../decide.js";

export const { schema, inbox, outbox } = runtimeTables("ipam");
export const subscriberState = subscriberStateTable(schema);

export const pools = schema.table(
  "pools",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["ipv4", "ipv6", "ipv6_pd"] }).notNull(),
    cidr: text("cidr").notNull(),
    gateway: text("gateway"),
    delegatedLength: integer("delegated_length"),
    isDefault: boolean("is_default").notNull().default(false),
    /** dynamic | static | both: what the pool's units are for (decide.ts PoolUsage). */
    usage: text("usage", { enum: ["dynamic", "static", "both"] }).notNull().default("both"),
    /** The bump cursor: every unit below it was handed out once (or skipped); numeric, IPv6 needs 128 bits. */
    nextIndex: numeric("next_index", { mode: "bigint" }).notNull(),
    /** Units in the CIDR. */
    size: numeric("size", { mode: "bigint" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("pools_tenant_name").on(t.tenantId, t.name),
    uniqueIndex("pools_one_default_per_kind").on(t.tenantId, t.kind).where(sql`${t.isDefault}`),
    check("pools_kind", sql`${t.kind} in ('ipv4', 'ipv6', 'ipv6_pd')`),
    check("pools_pd_length", sql`(${t.kind} = 'ipv6_pd') = (${t.delegatedLength} is not null)`),
    check("pools_usage", sql`${t.usage} in ('dynamic', 'static', 'both')`),
    // The default pool serves dynamic needs: a pool for statics only can not be it.
    check("pools_static_not_default", sql`not (${t.isDefault} and ${t.usage} = 'static')`),
  ],
);

/** Unit indexes of a pool never handed out (first..last inclusive). */
export const reserved = schema.table(
  "reserved",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    tenantId: text("tenant_id").notNull(),
    poolId: text("pool_id").notNull().references(() => pools.id, { onDelete: "cascade" }),
    firstIndex: numeric("first_index", { mode: "bigint" }).notNull(),
    lastIndex: numeric("last_index", { mode: "bigint" }).notNull(),
    label: text("label").notNull(),
  },
  (t) => [index("reserved_pool").on(t.tenantId, t.poolId)],
);

/** Free list: units released below the cursor, handed out again before the cursor moves. */
export const released = schema.table(
  "released",
  {
    tenantId: text("tenant_id").notNull(),
    poolId: text("pool_id").notNull().references(() => pools.id, { onDelete: "cascade" }),
    idx: numeric("idx", { mode: "bigint" }).notNull(),
    releasedAt: timestamp("released_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.poolId, t.idx] })],
);

export const allocations = schema.table(
  "allocations",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    family: text("family", { enum: ["ipv4", "ipv6", "ipv6_pd"] }).notNull(),
    /** Canonical text: dotted IPv4, RFC 5952 IPv6, `prefix/len` for PD. */
    address: text("address").notNull(),
    /** Set when the unit lies in the allocatable part of one of the tenant's pools (statics too). */
    poolId: text("pool_id").references(() => pools.id, { onDelete: "set null" }),
    idx: numeric("idx", { mode: "bigint" }),
    source: text("source", { enum: ["network_profile", "order_static", "dynamic"] }).notNull(),
    allocatedAt: timestamp("allocated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Secondary keys lead with their own columns, not tenant_id: with a new tenant's statistics
    // not yet gathered (a tenant set up and provisioned within a minute), PostgreSQL took any
    // index led by tenant_id for a lookup by another key and read the tenant's rows one by one.
    unique("allocations_unique_address").on(t.family, t.address, t.tenantId),
    unique("allocations_one_per_family").on(t.tenantId, t.subscriberId, t.family),
    index("allocations_pool").on(t.poolId, t.tenantId),
  ],
);

export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    state: jsonb("state").$type<IpamState>().notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
);
