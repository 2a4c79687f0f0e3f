// The profile service's tables, in the PostgreSQL schema "profile": the inbox and outbox of the
// runtime, the network profiles (one per tenant and subscriber, soft-deleted for audit) and what
// the service knows of each subscriber (the SubscriberView, for compensation and write-back).
import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import { runtimeTables, subscriberStateTable } from "../../../shared/runtime-tables.js";

export const { schema, inbox, outbox } = runtimeTables("profile");
export const subscriberState = subscriberStateTable(schema);

export const subscriberNetworkProfiles = schema.table(
  "subscriber_network_profiles",
  {
    id: uuid("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    serviceVlan: integer("service_vlan"),
    innerVlan: integer("inner_vlan"),
    qinqEnabled: boolean("qinq_enabled").notNull().default(false),
    vlanPool: text("vlan_pool"),
    circuitId: text("circuit_id"),
    remoteId: text("remote_id"),
    option82Policy: text("option82_policy").notNull().default("log"),
    staticIpv4: text("static_ipv4"),
    staticIpv6: text("static_ipv6"),
    delegatedIpv6Prefix: text("delegated_ipv6_prefix"),
    ipv6PdSize: integer("ipv6_pd_size"),
    ipv6AssignmentMode: text("ipv6_assignment_mode").notNull().default("none"),
    ipv4Pool: text("ipv4_pool"),
    ipv6Pool: text("ipv6_pool"),
    ipv6PdPool: text("ipv6_pd_pool"),
    metadata: jsonb("metadata").$type<Record<string, string>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("subscriber_network_profiles_tenant_subscriber").on(t.tenantId, t.subscriberId),
    // With QinQ the (S-VLAN, C-VLAN) pair identifies one subscriber's line: one live owner per tenant.
    uniqueIndex("subscriber_network_profiles_qinq_pair")
      .on(t.tenantId, t.serviceVlan, t.innerVlan)
      .where(sql`${t.qinqEnabled} and ${t.deletedAt} is null and ${t.serviceVlan} is not null and ${t.innerVlan} is not null`),
    // The clash check looks a pair up by both tags: with the S-VLAN alone it read every line of
    // a busy S-VLAN for each new subscriber (a thousand lines on one S-VLAN: 1 000 rows a check).
    // The tags lead, so a lookup by (tenant, subscriber) never takes this index for the unique
    // one: with a new tenant's statistics not yet gathered, PostgreSQL took an index led by
    // tenant_id and read all of the tenant's rows for every profile read and write-back.
    index("subscriber_network_profiles_vlan_pair").on(t.serviceVlan, t.innerVlan, t.tenantId),
    // The store's own line of defence (the subscriber service validates orders first): a row
    // these reject becomes NetworkProfileSkipped with the constraint's name as the reason.
    check("service_vlan_range", sql`${t.serviceVlan} between 1 and 4094`),
    check("inner_vlan_range", sql`${t.innerVlan} between 1 and 4094`),
    check("ipv6_pd_size_range", sql`${t.ipv6PdSize} between 48 and 64`),
    check("option82_policy_known", sql`${t.option82Policy} in ('enforce', 'log', 'ignore')`),
    check("ipv6_assignment_mode_known", sql`${t.ipv6AssignmentMode} in ('none', 'slaac', 'stateful', 'pd', 'dual_stack')`),
  ],
);

export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    view: jsonb("view").$type<SubscriberView>().notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
);
