// The radius service's PostgreSQL schema `radius`: FreeRADIUS reads it directly (search_path of
// its SQL module), so the FreeRADIUS tables below keep the names, columns and types of the stock
// PostgreSQL schema (infra/freeradius/radius-schema.sql; unquoted identifiers fold to lower case).
// The tables we write (radcheck, radreply, radusergroup, radgroupcheck, radgroupreply) add a
// nullable tenant_id that FreeRADIUS's queries never select, so every write of ours is filtered by
// tenant. radacct, radpostauth, nas and nasreload are written by FreeRADIUS only.
import { sql } from "drizzle-orm";
import { bigint, bigserial, index, inet, integer, jsonb, primaryKey, serial, text, timestamp, uniqueIndex, varchar } from "drizzle-orm/pg-core";
import { runtimeTables, subscriberStateTable } from "../../../shared/runtime-tables.js";
import type { SubscriberView } from "../../../shared/subscriber-view.js";

export const schemaName = "radius";
export const { schema, inbox, outbox } = runtimeTables(schemaName);
export const subscriberState = subscriberStateTable(schema);

const tz = { withTimezone: true } as const;

// ---- FreeRADIUS tables -------------------------------------------------------------------------

/** Accounting: one row per session (Acct-Unique-Session-Id). */
export const radacct = schema.table(
  "radacct",
  {
    radacctid: bigserial("radacctid", { mode: "bigint" }).primaryKey(),
    acctsessionid: text("acctsessionid").notNull(),
    acctuniqueid: text("acctuniqueid").notNull().unique(),
    username: text("username"),
    realm: text("realm"),
    nasipaddress: inet("nasipaddress").notNull(),
    nasportid: text("nasportid"),
    nasporttype: text("nasporttype"),
    acctstarttime: timestamp("acctstarttime", tz),
    acctupdatetime: timestamp("acctupdatetime", tz),
    acctstoptime: timestamp("acctstoptime", tz),
    acctinterval: bigint("acctinterval", { mode: "number" }),
    acctsessiontime: bigint("acctsessiontime", { mode: "number" }),
    acctauthentic: text("acctauthentic"),
    connectinfoStart: text("connectinfo_start"),
    connectinfoStop: text("connectinfo_stop"),
    acctinputoctets: bigint("acctinputoctets", { mode: "number" }),
    acctoutputoctets: bigint("acctoutputoctets", { mode: "number" }),
    calledstationid: text("calledstationid"),
    callingstationid: text("callingstationid"),
    acctterminatecause: text("acctterminatecause"),
    servicetype: text("servicetype"),
    framedprotocol: text("framedprotocol"),
    framedipaddress: inet("framedipaddress"),
    framedipv6address: inet("framedipv6address"),
    framedipv6prefix: inet("framedipv6prefix"),
    framedinterfaceid: text("framedinterfaceid"),
    delegatedipv6prefix: inet("delegatedipv6prefix"),
    class: text("class"),
  },
  (t) => [
    index("radacct_active_session_idx").on(t.acctuniqueid).where(sql`${t.acctstoptime} is null`),
    index("radacct_bulk_close").on(t.nasipaddress, t.acctstarttime).where(sql`${t.acctstoptime} is null`),
    index("radacct_start_user_idx").on(t.acctstarttime, t.username),
    index("radacct_calss_idx").on(t.class),
    // The open session of a user, looked up for every suspend, plan change and termination.
    index("radacct_open_by_user").on(t.username).where(sql`${t.acctstoptime} is null`),
  ],
);

/** Per-user check items: the hashed password (SSHA2-512-Password). */
export const radcheck = schema.table(
  "radcheck",
  {
    id: serial("id").primaryKey(),
    username: text("username").notNull().default(""),
    attribute: text("attribute").notNull().default(""),
    op: varchar("op", { length: 2 }).notNull().default("=="),
    value: text("value").notNull().default(""),
    tenantId: text("tenant_id"),
  },
  (t) => [index("radcheck_username").on(t.username, t.attribute)],
);

/** Per-group (plan) check items. */
export const radgroupcheck = schema.table(
  "radgroupcheck",
  {
    id: serial("id").primaryKey(),
    groupname: text("groupname").notNull().default(""),
    attribute: text("attribute").notNull().default(""),
    op: varchar("op", { length: 2 }).notNull().default("=="),
    value: text("value").notNull().default(""),
    tenantId: text("tenant_id"),
  },
  (t) => [index("radgroupcheck_groupname").on(t.groupname, t.attribute)],
);

/** Per-group (plan) reply items: the rate limit. */
export const radgroupreply = schema.table(
  "radgroupreply",
  {
    id: serial("id").primaryKey(),
    groupname: text("groupname").notNull().default(""),
    attribute: text("attribute").notNull().default(""),
    op: varchar("op", { length: 2 }).notNull().default("="),
    value: text("value").notNull().default(""),
    tenantId: text("tenant_id"),
  },
  (t) => [index("radgroupreply_groupname").on(t.groupname, t.attribute)],
);

/** Per-user reply items: addresses, delegated prefix, VLAN tags. */
export const radreply = schema.table(
  "radreply",
  {
    id: serial("id").primaryKey(),
    username: text("username").notNull().default(""),
    attribute: text("attribute").notNull().default(""),
    op: varchar("op", { length: 2 }).notNull().default("="),
    value: text("value").notNull().default(""),
    tenantId: text("tenant_id"),
  },
  (t) => [index("radreply_username").on(t.username, t.attribute)],
);

/** User -> group (plan). */
export const radusergroup = schema.table(
  "radusergroup",
  {
    id: serial("id").primaryKey(),
    username: text("username").notNull().default(""),
    groupname: text("groupname").notNull().default(""),
    priority: integer("priority").notNull().default(0),
    tenantId: text("tenant_id"),
  },
  (t) => [index("radusergroup_username").on(t.username)],
);

/** One row per Access-Accept / Access-Reject (FreeRADIUS leaves "pass" NULL). */
export const radpostauth = schema.table(
  "radpostauth",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    username: text("username").notNull(),
    pass: text("pass"),
    reply: text("reply"),
    calledstationid: text("calledstationid"),
    callingstationid: text("callingstationid"),
    authdate: timestamp("authdate", tz).notNull().defaultNow(),
    class: text("class"),
  },
  (t) => [index("radpostauth_username_idx").on(t.username), index("radpostauth_class_idx").on(t.class)],
);

/** RADIUS clients; not read by the local server (read_clients = no). */
export const nas = schema.table(
  "nas",
  {
    id: serial("id").primaryKey(),
    nasname: text("nasname").notNull(),
    shortname: text("shortname").notNull(),
    type: text("type").notNull().default("other"),
    ports: integer("ports"),
    secret: text("secret").notNull(),
    server: text("server"),
    community: text("community"),
    description: text("description"),
  },
  (t) => [index("nas_nasname").on(t.nasname)],
);

/** Last Accounting-On/Off per NAS. */
export const nasreload = schema.table("nasreload", {
  nasipaddress: inet("nasipaddress").primaryKey(),
  reloadtime: timestamp("reloadtime", tz).notNull(),
});

// ---- Our own tables ----------------------------------------------------------------------------

export type AccountStatus = "active" | "suspended" | "deleted";

/** One RADIUS account per subscriber; the FreeRADIUS rows above carry its username. */
export const accounts = schema.table(
  "accounts",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    username: text("username").notNull(),
    status: text("status").$type<AccountStatus>().notNull(),
    planGroup: text("plan_group").notNull(),
    /** How the account is suspended (reject | walled_garden); null when it is not. */
    suspendMode: text("suspend_mode").$type<SuspendMode>(),
    createdAt: timestamp("created_at", tz).notNull().defaultNow(),
    deletedAt: timestamp("deleted_at", tz),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] }), uniqueIndex("accounts_username").on(t.username)],
);

/** A tenant's plan as RADIUS knows it: the group and its rate limit. */
export const plans = schema.table(
  "plans",
  {
    tenantId: text("tenant_id").notNull(),
    planId: text("plan_id").notNull(),
    downloadMbps: integer("download_mbps").notNull(),
    uploadMbps: integer("upload_mbps").notNull(),
    groupName: text("group_name").notNull(),
    updatedAt: timestamp("updated_at", tz).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.planId] })],
);

/** What this service knows of each subscriber (shared/subscriber-view.ts). */
export const subscribers = schema.table(
  "subscribers",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    view: jsonb("view").$type<SubscriberView>().notNull(),
    updatedAt: timestamp("updated_at", tz).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subscriberId] })],
);

/** A tenant's NAS devices: where CoA / Disconnect requests go. The secret is used, never shown. */
export const nasDevices = schema.table(
  "nas_devices",
  {
    tenantId: text("tenant_id").notNull(),
    nasId: text("nas_id").notNull(),
    address: text("address").notNull(),
    coaPort: integer("coa_port").notNull().default(3799),
    secret: text("secret").notNull(),
    createdAt: timestamp("created_at", tz).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.nasId] }), uniqueIndex("nas_devices_tenant_address").on(t.tenantId, t.address)],
);

/** Why an account's first password is no longer held. */
export type FirstPasswordGone = "retrieved" | "expired" | "rotated";

/**
 * The first password of each account, in clear, until an operator retrieves it once (or it
 * expires after FIRST_PASSWORD_TTL_MS, or a rotation replaces it): then `password` is emptied and
 * the row stays, so a second retrieval answers 410 rather than 404. Removed with the account.
 */
export const firstPasswords = schema.table(
  "first_passwords",
  {
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    username: text("username").notNull(),
    password: text("password"),
    createdAt: timestamp("created_at", tz).notNull().defaultNow(),
    goneAt: timestamp("gone_at", tz),
    goneReason: text("gone_reason").$type<FirstPasswordGone>(),
    /** The id of the operator token that retrieved it (never the token). */
    retrievedBy: text("retrieved_by"),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.subscriberId] }),
    // The expiry sweep reads only the passwords still held.
    index("first_passwords_held").on(t.createdAt).where(sql`${t.password} is not null`),
  ],
);

export type SuspendMode = "reject" | "walled_garden";

/** How a tenant suspends: refuse the account, or move it to a walled-garden group. */
export const suspensionPolicies = schema.table("suspension_policies", {
  tenantId: text("tenant_id").primaryKey(),
  mode: text("mode").$type<SuspendMode>().notNull().default("reject"),
  walledGardenGroup: text("walled_garden_group"),
  updatedAt: timestamp("updated_at", tz).notNull().defaultNow(),
});

export type CoaKind = "disconnect" | "coa";
/**
 * pending → sending (claimed by a dispatcher until `claimed_until`) → ack | nak | timeout | error
 * (the request could not be built, e.g. a dictionary is missing); no_session and unknown_nas (the
 * session runs on a NAS the registry does not know) are recorded at once.
 */
export type CoaStatus = "pending" | "sending" | "ack" | "nak" | "timeout" | "error" | "no_session" | "unknown_nas";

/**
 * Every CoA / Disconnect request: written pending with the account change, claimed by a dispatcher
 * (status sending, a claim token and a lease), sent outside any transaction, then recorded.
 */
export const coaRequests = schema.table(
  "coa_requests",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    subscriberId: text("subscriber_id").notNull(),
    username: text("username").notNull(),
    kind: text("kind").$type<CoaKind>().notNull(),
    nasId: text("nas_id"),
    attributes: jsonb("attributes").$type<Record<string, string>>().notNull(),
    causeEventId: text("cause_event_id").notNull(),
    correlationId: text("correlation_id"),
    status: text("status").$type<CoaStatus>().notNull().default("pending"),
    errorCause: integer("error_cause"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: timestamp("created_at", tz).notNull().defaultNow(),
    completedAt: timestamp("completed_at", tz),
    /** The claim of the dispatcher sending it; only that claim may record the outcome. */
    claimToken: text("claim_token"),
    /** A sending request whose lease has run out (its dispatcher died) is claimable again. */
    claimedUntil: timestamp("claimed_until", tz),
  },
  (t) => [
    uniqueIndex("coa_requests_cause_kind").on(t.causeEventId, t.kind),
    index("coa_requests_pending").on(t.status),
    // The dispatcher's claim walks the open requests NAS by NAS, oldest first, and counts each NAS's live claims.
    index("coa_requests_open").on(t.tenantId, t.nasId, t.createdAt, t.id).where(sql`${t.status} in ('pending', 'sending')`),
    index("coa_requests_sending").on(t.tenantId, t.nasId, t.claimedUntil).where(sql`${t.status} = 'sending'`),
  ],
);
