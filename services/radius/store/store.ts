// Reads and writes of the radius schema. Every query filters by tenant; the FreeRADIUS rows of
// an account are written and removed together, in the caller's transaction.
import { and, asc, eq, isNotNull, sql } from "drizzle-orm";
import { clientOf, type Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { keyString } from "../../../shared/reactor.js";
import { planGroupName, planReplyItems, rejectItem, walledGardenGroupName, type AccountState, type PlanConfig, type RadiusItem, type SuspendMode, type SuspensionPolicy } from "../decide.js";
import { accounts, firstPasswords, nasDevices, plans, radcheck, radgroupreply, radreply, radusergroup, suspensionPolicies, type CoaKind, type FirstPasswordGone } from "./schema.js";

// The account reads and writes of every provisioning are written as plain statements (drizzle's
// `sql`), not through the query builder, whose building cost more CPU than PostgreSQL spent on
// them (docs/PERFORMANCE.md).

export async function findAccount(tx: Tx, tenantId: string, subscriberId: string): Promise<AccountState | null> {
  const key = { tenant_id: tenantId, subscriber_id: subscriberId };
  return (await accountsOf(tx, [key])).get(keyString(key)) ?? null;
}

/** The accounts of these subscribers, in one statement: tenant\0subscriber → account (none: absent). */
export async function accountsOf(tx: Tx, keys: ReadonlyArray<{ readonly tenant_id: string; readonly subscriber_id: string }>): Promise<Map<string, AccountState>> {
  const out = new Map<string, AccountState>();
  if (keys.length === 0) return out;
  // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
  // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
  const rows = await clientOf(tx)<{ tenant_id: string; subscriber_id: string; username: string; status: AccountState["status"]; plan_group: string; suspend_mode: SuspendMode | null }[]>`
    select a.tenant_id, a.subscriber_id, a.username, a.status, a.plan_group, a.suspend_mode
      from jsonb_to_recordset(${JSON.stringify(keys.map((k) => ({ tenant_id: k.tenant_id, subscriber_id: k.subscriber_id })))}::jsonb) as k(tenant_id text, subscriber_id text)
      cross join lateral (select * from radius.accounts a where a.tenant_id = k.tenant_id and a.subscriber_id = k.subscriber_id offset 0) a`;
  for (const r of rows) out.set(keyString(r), { username: r.username, status: r.status, planGroup: r.plan_group, suspendMode: r.suspend_mode });
  return out;
}

export async function findPlan(tx: Tx, tenantId: string, planId: string): Promise<PlanConfig | null> {
  const rows = await tx
    .select({ planId: plans.planId, downloadMbps: plans.downloadMbps, uploadMbps: plans.uploadMbps })
    .from(plans)
    .where(and(eq(plans.tenantId, tenantId), eq(plans.planId, planId)));
  return rows[0] ?? null;
}

export interface NewAccount {
  readonly tenantId: string;
  readonly subscriberId: string;
  readonly username: string;
  readonly planGroup: string;
  readonly check: RadiusItem;
  /** The password `check` hashes, held until an operator retrieves it once. */
  readonly firstPassword: string;
  readonly reply: readonly RadiusItem[];
}

/**
 * The account row plus its radcheck (hashed password), radreply and radusergroup rows, and the
 * first password held for its one retrieval, in one statement.
 */
export async function createAccount(tx: Tx, a: NewAccount): Promise<void> {
  const t = a.tenantId;
  await tx.execute(sql`
    with account as (
      insert into ${accounts} (tenant_id, subscriber_id, username, status, plan_group)
      values (${t}, ${a.subscriberId}, ${a.username}, 'active', ${a.planGroup})
    ), checks as (
      insert into ${radcheck} (tenant_id, username, attribute, op, value)
      values (${t}, ${a.username}, ${a.check.attribute}, ${a.check.op}, ${a.check.value})
    ), first_password as (
      insert into ${firstPasswords} (tenant_id, subscriber_id, username, password)
      values (${t}, ${a.subscriberId}, ${a.username}, ${a.firstPassword})
    ), replies as (
      insert into ${radreply} (tenant_id, username, attribute, op, value)
      select ${t}, ${a.username}, e.r->>'attribute', e.r->>'op', e.r->>'value'
      from jsonb_array_elements(${JSON.stringify(a.reply)}::jsonb) with ordinality as e(r, ord)
      order by e.ord
    )
    insert into ${radusergroup} (tenant_id, username, groupname, priority) values (${t}, ${a.username}, ${a.planGroup}, 1)`);
}

/** Removes the account's FreeRADIUS rows (it no longer authenticates) and marks it deleted. */
export async function deleteAccount(tx: Tx, tenantId: string, subscriberId: string, username: string): Promise<void> {
  await tx.delete(radcheck).where(and(eq(radcheck.tenantId, tenantId), eq(radcheck.username, username)));
  await tx.delete(radreply).where(and(eq(radreply.tenantId, tenantId), eq(radreply.username, username)));
  await tx.delete(radusergroup).where(and(eq(radusergroup.tenantId, tenantId), eq(radusergroup.username, username)));
  await tx.delete(firstPasswords).where(and(eq(firstPasswords.tenantId, tenantId), eq(firstPasswords.subscriberId, subscriberId)));
  await tx
    .update(accounts)
    .set({ status: "deleted", deletedAt: new Date() })
    .where(and(eq(accounts.tenantId, tenantId), eq(accounts.subscriberId, subscriberId)));
}

/**
 * Replaces the password check item of an active account; null when the tenant has no such
 * account. A first password still held is dropped: it no longer works.
 */
export async function replacePassword(db: Db, tenantId: string, subscriberId: string, check: RadiusItem): Promise<string | null> {
  return db.transaction(async (tx) => {
    const account = await findAccount(tx, tenantId, subscriberId);
    if (!account || account.status === "deleted") return null;
    const where = and(eq(radcheck.tenantId, tenantId), eq(radcheck.username, account.username), eq(radcheck.attribute, check.attribute));
    await tx.delete(radcheck).where(where);
    await tx.insert(radcheck).values({ tenantId, username: account.username, ...check });
    await tx
      .update(firstPasswords)
      .set({ password: null, goneAt: new Date(), goneReason: "rotated" })
      .where(and(eq(firstPasswords.tenantId, tenantId), eq(firstPasswords.subscriberId, subscriberId), isNotNull(firstPasswords.password)));
    return account.username;
  });
}

export type FirstPassword =
  | { readonly kind: "no-account" }
  | { readonly kind: "password"; readonly username: string; readonly password: string }
  /** Not held any more; `reason` null for an account created before first passwords were kept. */
  | { readonly kind: "gone"; readonly username: string; readonly reason: FirstPasswordGone | null };

/**
 * The first password of an active account, exactly once: it is emptied in the same transaction
 * that reads it (the row locked, so two callers at once cannot both get it). One held longer than
 * `ttlMs` is emptied as expired instead.
 */
export async function takeFirstPassword(db: Db, tenantId: string, subscriberId: string, ttlMs: number, tokenId: string): Promise<FirstPassword> {
  return db.transaction(async (tx) => {
    const account = await findAccount(tx, tenantId, subscriberId);
    if (!account || account.status === "deleted") return { kind: "no-account" };
    const where = and(eq(firstPasswords.tenantId, tenantId), eq(firstPasswords.subscriberId, subscriberId));
    const [row] = await tx
      .select({ password: firstPasswords.password, goneReason: firstPasswords.goneReason, expired: sql<boolean>`${firstPasswords.createdAt} + ${ttlMs} * interval '1 millisecond' <= now()` })
      .from(firstPasswords)
      .where(where)
      .for("update");
    if (!row) return { kind: "gone", username: account.username, reason: null };
    if (row.password === null) return { kind: "gone", username: account.username, reason: row.goneReason };
    if (row.expired) {
      await tx.update(firstPasswords).set({ password: null, goneAt: new Date(), goneReason: "expired" }).where(where);
      return { kind: "gone", username: account.username, reason: "expired" };
    }
    await tx.update(firstPasswords).set({ password: null, goneAt: new Date(), goneReason: "retrieved", retrievedBy: tokenId }).where(where);
    return { kind: "password", username: account.username, password: row.password };
  });
}

/** Empties every first password held longer than `ttlMs`; how many. */
export async function expireFirstPasswords(db: Db, ttlMs: number): Promise<number> {
  const rows = await db
    .update(firstPasswords)
    .set({ password: null, goneAt: new Date(), goneReason: "expired" })
    .where(and(isNotNull(firstPasswords.password), sql`${firstPasswords.createdAt} + ${ttlMs} * interval '1 millisecond' <= now()`))
    .returning({ subscriberId: firstPasswords.subscriberId });
  return rows.length;
}

export interface PlanRow extends PlanConfig {
  readonly tenantId: string;
  readonly groupName: string;
}

/** Creates or changes a tenant's plan: its row and its group's radgroupreply items. */
export async function setPlan(db: Db, tenantId: string, plan: PlanConfig): Promise<PlanRow> {
  const groupName = planGroupName(tenantId, plan.planId);
  await db.transaction(async (tx) => {
    const values = { tenantId, planId: plan.planId, downloadMbps: plan.downloadMbps, uploadMbps: plan.uploadMbps, groupName };
    await tx
      .insert(plans)
      .values(values)
      .onConflictDoUpdate({ target: [plans.tenantId, plans.planId], set: { ...values, updatedAt: new Date() } });
    await tx.delete(radgroupreply).where(and(eq(radgroupreply.tenantId, tenantId), eq(radgroupreply.groupname, groupName)));
    await tx.insert(radgroupreply).values(planReplyItems(plan).map((r) => ({ tenantId, groupname: groupName, ...r })));
  });
  return { tenantId, groupName, ...plan };
}

export async function listPlans(db: Db, tenantId?: string): Promise<PlanRow[]> {
  return db
    .select({ tenantId: plans.tenantId, planId: plans.planId, downloadMbps: plans.downloadMbps, uploadMbps: plans.uploadMbps, groupName: plans.groupName })
    .from(plans)
    .where(tenantId === undefined ? undefined : eq(plans.tenantId, tenantId))
    .orderBy(asc(plans.tenantId), asc(plans.planId));
}

// ---- suspend / resume / plan change ------------------------------------------------------------

const accountWhere = (tenantId: string, subscriberId: string) => and(eq(accounts.tenantId, tenantId), eq(accounts.subscriberId, subscriberId));

async function moveGroup(tx: Tx, tenantId: string, username: string, group: string): Promise<void> {
  await tx.update(radusergroup).set({ groupname: group }).where(and(eq(radusergroup.tenantId, tenantId), eq(radusergroup.username, username)));
}

/** reject: Auth-Type := Reject in radcheck; walled_garden: radusergroup moved to the walled-garden group. One statement. */
export async function suspendAccount(tx: Tx, tenantId: string, subscriberId: string, username: string, mode: SuspendMode, group: string | null): Promise<void> {
  const reject = mode === "reject";
  const move = !reject && group !== null;
  await clientOf(tx)`
    with rejected as (
      insert into radius.radcheck (tenant_id, username, attribute, op, value)
      select ${tenantId}, ${username}, ${rejectItem.attribute}, ${rejectItem.op}, ${rejectItem.value} where ${reject}::boolean
    ), moved as (
      update radius.radusergroup set groupname = ${group ?? ""} where ${move}::boolean and tenant_id = ${tenantId} and username = ${username}
    )
    update radius.accounts set status = 'suspended', suspend_mode = ${mode} where tenant_id = ${tenantId} and subscriber_id = ${subscriberId}`;
}

/** Undoes suspendAccount exactly. One statement. */
export async function resumeAccount(tx: Tx, tenantId: string, subscriberId: string, username: string, mode: SuspendMode, planGroup: string): Promise<void> {
  const reject = mode === "reject";
  await clientOf(tx)`
    with unrejected as (
      delete from radius.radcheck
       where ${reject}::boolean and tenant_id = ${tenantId} and username = ${username} and attribute = ${rejectItem.attribute} and value = ${rejectItem.value}
    ), moved as (
      update radius.radusergroup set groupname = ${planGroup} where not ${reject}::boolean and tenant_id = ${tenantId} and username = ${username}
    )
    update radius.accounts set status = 'active', suspend_mode = null where tenant_id = ${tenantId} and subscriber_id = ${subscriberId}`;
}

export async function changePlan(tx: Tx, tenantId: string, subscriberId: string, username: string, planGroup: string, move: boolean): Promise<void> {
  if (move) await moveGroup(tx, tenantId, username, planGroup);
  await tx.update(accounts).set({ planGroup }).where(accountWhere(tenantId, subscriberId));
}

export async function groupReplyItems(tx: Tx | Db, tenantId: string, group: string): Promise<RadiusItem[]> {
  return tx
    .select({ attribute: radgroupreply.attribute, op: radgroupreply.op, value: radgroupreply.value })
    .from(radgroupreply)
    .where(and(eq(radgroupreply.tenantId, tenantId), eq(radgroupreply.groupname, group)));
}

// ---- suspension policy -------------------------------------------------------------------------

export async function findPolicy(tx: Tx | Db, tenantId: string): Promise<SuspensionPolicy> {
  const rows = await tx
    .select({ mode: suspensionPolicies.mode, walledGardenGroup: suspensionPolicies.walledGardenGroup })
    .from(suspensionPolicies)
    .where(eq(suspensionPolicies.tenantId, tenantId));
  return rows[0] ?? { mode: "reject", walledGardenGroup: null };
}

/** Sets the tenant's policy; with reply items, (re)writes the walled-garden group's radgroupreply rows. */
/** Sets the tenant's suspension policy; returns it as stored (the walled-garden group under the tenant's prefix). */
export async function setPolicy(db: Db, tenantId: string, policy: SuspensionPolicy, groupReply: readonly RadiusItem[] = []): Promise<SuspensionPolicy> {
  const scoped: SuspensionPolicy = { ...policy, walledGardenGroup: policy.walledGardenGroup === null ? null : walledGardenGroupName(tenantId, policy.walledGardenGroup) };
  await db.transaction(async (tx) => {
    const values = { tenantId, mode: scoped.mode, walledGardenGroup: scoped.walledGardenGroup };
    await tx
      .insert(suspensionPolicies)
      .values(values)
      .onConflictDoUpdate({ target: suspensionPolicies.tenantId, set: { ...values, updatedAt: new Date() } });
    if (scoped.walledGardenGroup && groupReply.length > 0) {
      const group = scoped.walledGardenGroup;
      await tx.delete(radgroupreply).where(and(eq(radgroupreply.tenantId, tenantId), eq(radgroupreply.groupname, group)));
      await tx.insert(radgroupreply).values(groupReply.map((r) => ({ tenantId, groupname: group, ...r })));
    }
  });
  return scoped;
}

// ---- NAS registry ------------------------------------------------------------------------------

export interface NasDevice {
  readonly tenantId: string;
  readonly nasId: string;
  readonly address: string;
  readonly coaPort: number;
}

export async function addNas(db: Db, nas: NasDevice & { readonly secret: string }): Promise<void> {
  const values = { tenantId: nas.tenantId, nasId: nas.nasId, address: nas.address, coaPort: nas.coaPort, secret: nas.secret };
  await db
    .insert(nasDevices)
    .values(values)
    .onConflictDoUpdate({ target: [nasDevices.tenantId, nasDevices.nasId], set: values });
}

/** Never returns secrets. */
export async function listNas(db: Db, tenantId?: string): Promise<NasDevice[]> {
  return db
    .select({ tenantId: nasDevices.tenantId, nasId: nasDevices.nasId, address: nasDevices.address, coaPort: nasDevices.coaPort })
    .from(nasDevices)
    .where(tenantId === undefined ? undefined : eq(nasDevices.tenantId, tenantId))
    .orderBy(asc(nasDevices.tenantId), asc(nasDevices.nasId));
}

/**
 * The open session of `username` (latest start): on one of the tenant's registered NAS devices
 * (`nasId`), or on a NAS the registry does not know (`nasId` null: nothing can be sent there).
 */
export type OpenSession = { nasId: string | null; nasAddress: string; framedIp: string | null; sessionId: string };

/**
 * The open sessions of these users (tenant, username), in one statement: tenant\0username → the
 * latest (as openSession picks it), with the tenant's NAS it runs on if registered; a user with
 * none is absent.
 */
export async function openSessions(tx: Tx, users: ReadonlyArray<{ readonly tenantId: string; readonly username: string }>): Promise<Map<string, OpenSession>> {
  const out = new Map<string, OpenSession>();
  if (users.length === 0) return out;
  const rows = await clientOf(tx)<{ tenant_id: string; username: string; nas_id: string | null; nas_address: string; framed_ip: string | null; session_id: string }[]>`
    select distinct on (k.tenant_id, k.username) k.tenant_id, k.username, n.nas_id, host(r.nasipaddress) as nas_address, r.framedipaddress as framed_ip, r.acctsessionid as session_id
      from jsonb_to_recordset(${JSON.stringify(users.map((u) => ({ tenant_id: u.tenantId, username: u.username })))}::jsonb) as k(tenant_id text, username text)
      join radius.radacct r on r.username = k.username and r.acctstoptime is null
      left join radius.nas_devices n on n.tenant_id = k.tenant_id and n.address::inet = r.nasipaddress
     order by k.tenant_id, k.username, r.acctstarttime desc`;
  for (const r of rows) out.set(`${r.tenant_id}\u0000${r.username}`, { nasId: r.nas_id, nasAddress: r.nas_address, framedIp: r.framed_ip, sessionId: r.session_id });
  return out;
}

export async function openSession(tx: Tx, tenantId: string, username: string): Promise<OpenSession | null> {
  return (await openSessions(tx, [{ tenantId, username }])).get(`${tenantId}\u0000${username}`) ?? null;
}

// ---- CoA / Disconnect requests -----------------------------------------------------------------

export interface NewCoa {
  readonly id: string;
  readonly tenantId: string;
  readonly subscriberId: string;
  readonly username: string;
  readonly kind: CoaKind;
  readonly nasId: string | null;
  readonly attributes: Record<string, string>;
  readonly causeEventId: string;
  readonly correlationId: string | null;
  readonly status: "pending" | "no_session" | "unknown_nas";
}

/** Idempotent per (cause event, kind); false when it was already there. */
export async function insertCoa(tx: Tx, c: NewCoa): Promise<boolean> {
  const rows = await clientOf(tx)`
    insert into radius.coa_requests (id, tenant_id, subscriber_id, username, kind, nas_id, attributes, cause_event_id, correlation_id, status, completed_at)
    values (${c.id}, ${c.tenantId}, ${c.subscriberId}, ${c.username}, ${c.kind}, ${c.nasId}, ${JSON.stringify(c.attributes)}::jsonb, ${c.causeEventId}, ${c.correlationId}, ${c.status},
            case when ${c.status} = 'pending' then null else now() end)
    on conflict do nothing
    returning id`;
  return rows.length === 1;
}
