// Reads and writes of the radius schema. Every query filters by tenant; the FreeRADIUS rows of
// an account are written and removed together, in the caller's transaction.
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import { planGroupName, planReplyItems, type AccountState, type PlanConfig, type RadiusItem } from "../decide.js";
import { accounts, plans, radcheck, radgroupreply, radreply, radusergroup, subscribers } from "./schema.js";

export async function loadView(tx: Tx, tenantId: string, subscriberId: string): Promise<SubscriberView | null> {
  const rows = await tx
    .select({ view: subscribers.view })
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.subscriberId, subscriberId)));
  return rows[0]?.view ?? null;
}

export async function saveView(tx: Tx, view: SubscriberView): Promise<void> {
  await tx
    .insert(subscribers)
    .values({ tenantId: view.tenant_id, subscriberId: view.subscriber_id, view })
    .onConflictDoUpdate({ target: [subscribers.tenantId, subscribers.subscriberId], set: { view, updatedAt: new Date() } });
}

export async function findAccount(tx: Tx, tenantId: string, subscriberId: string): Promise<AccountState | null> {
  const rows = await tx
    .select({ username: accounts.username, status: accounts.status, planGroup: accounts.planGroup })
    .from(accounts)
    .where(and(eq(accounts.tenantId, tenantId), eq(accounts.subscriberId, subscriberId)));
  return rows[0] ?? null;
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
  readonly reply: readonly RadiusItem[];
}

/** The account row plus its radcheck (hashed password), radreply and radusergroup rows. */
export async function createAccount(tx: Tx, a: NewAccount): Promise<void> {
  const tenantId = a.tenantId;
  await tx.insert(accounts).values({ tenantId, subscriberId: a.subscriberId, username: a.username, status: "active", planGroup: a.planGroup });
  await tx.insert(radcheck).values({ tenantId, username: a.username, ...a.check });
  if (a.reply.length > 0) await tx.insert(radreply).values(a.reply.map((r) => ({ tenantId, username: a.username, ...r })));
  await tx.insert(radusergroup).values({ tenantId, username: a.username, groupname: a.planGroup, priority: 1 });
}

/** Removes the account's FreeRADIUS rows (it no longer authenticates) and marks it deleted. */
export async function deleteAccount(tx: Tx, tenantId: string, subscriberId: string, username: string): Promise<void> {
  await tx.delete(radcheck).where(and(eq(radcheck.tenantId, tenantId), eq(radcheck.username, username)));
  await tx.delete(radreply).where(and(eq(radreply.tenantId, tenantId), eq(radreply.username, username)));
  await tx.delete(radusergroup).where(and(eq(radusergroup.tenantId, tenantId), eq(radusergroup.username, username)));
  await tx
    .update(accounts)
    .set({ status: "deleted", deletedAt: new Date() })
    .where(and(eq(accounts.tenantId, tenantId), eq(accounts.subscriberId, subscriberId)));
}

/** Replaces the password check item of an active account; null when the tenant has no such account. */
export async function replacePassword(db: Db, tenantId: string, subscriberId: string, check: RadiusItem): Promise<string | null> {
  return db.transaction(async (tx) => {
    const account = await findAccount(tx, tenantId, subscriberId);
    if (account?.status !== "active") return null;
    const where = and(eq(radcheck.tenantId, tenantId), eq(radcheck.username, account.username), eq(radcheck.attribute, check.attribute));
    await tx.delete(radcheck).where(where);
    await tx.insert(radcheck).values({ tenantId, username: account.username, ...check });
    return account.username;
  });
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
