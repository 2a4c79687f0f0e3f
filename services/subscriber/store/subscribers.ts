// The subscribers table: one row per accepted order, with the view and status the outcome
// decisions work on. Every query names the tenant.
import { and, asc, eq, inArray, isNotNull, lte, or, sql } from "drizzle-orm";
import { clientOf } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { keyString, type StateStore } from "../../../shared/reactor.js";
import { storedView, viewFromStored } from "../../../shared/subscriber-view.js";
import type { Status, Tracked } from "../decide-outcome.js";
import type { Executor } from "./plans.js";
import { lifecycleOrders, scheduledChanges, subscriberNumbers, subscribers, type SubscriberRow } from "./schema.js";
import type { ScheduledChange } from "../decide-order.js";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Our subscriber ids are UUIDs; anything else is not ours (and would not fit the column). */
export const isSubscriberId = (id: string | null): id is string => id !== null && uuidPattern.test(id);

export const toTracked = (r: SubscriberRow): Tracked => ({
  status: r.status as Status,
  view: viewFromStored(r.view),
  skipped: r.skippedSteps,
  correlation_id: r.correlationId,
  last_event_id: r.lastEventId,
  last_progress_at: r.lastProgressAt.getTime(),
  pending: r.pendingOrder ?? null,
});

/** Which of these orders (tenant, order id) the tenant already accepted, with their subscriber: one statement for a unit of work. */
export async function findByOrders(tx: Tx, orders: ReadonlyArray<{ readonly tenantId: string; readonly orderId: string }>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (orders.length === 0) return out;
  // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
  // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
  const rows = await clientOf(tx)<{ tenant_id: string; order_id: string; subscriber_id: string }[]>`
    select s.tenant_id, s.order_id, s.subscriber_id::text as subscriber_id
      from jsonb_to_recordset(${JSON.stringify(orders.map((o) => ({ tenant_id: o.tenantId, order_id: o.orderId })))}::jsonb) as k(tenant_id text, order_id text)
      cross join lateral (select * from subscriber.subscribers s where s.tenant_id = k.tenant_id and s.order_id = k.order_id offset 0) s`;
  for (const r of rows) out.set(orderKey(r.tenant_id, r.order_id), r.subscriber_id);
  return out;
}

export const orderKey = (tenantId: string, orderId: string): string => `${tenantId}\u0000${orderId}`;

export async function findSubscriber(db: Executor, tenantId: string, subscriberId: string): Promise<SubscriberRow | undefined> {
  if (!isSubscriberId(subscriberId)) return undefined;
  const [row] = await db
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.subscriberId, subscriberId)));
  return row;
}

/** The row, locked until the transaction ends: the deadline sweep skips it meanwhile. */
export async function lockSubscriber(tx: Tx, tenantId: string, subscriberId: string): Promise<SubscriberRow | undefined> {
  const [row] = await tx
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.subscriberId, subscriberId)))
    .for("update");
  return row;
}

/** The tenant's next subscriber number; the counter row serialises concurrent intakes. */
export async function nextSubscriberNumber(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx
    .insert(subscriberNumbers)
    .values({ tenantId, lastValue: 1 })
    .onConflictDoUpdate({ target: subscriberNumbers.tenantId, set: { lastValue: sql`${subscriberNumbers.lastValue} + 1` } })
    .returning({ value: subscriberNumbers.lastValue });
  if (!row) throw new Error(`no subscriber number for tenant ${tenantId}`);
  return row.value;
}

/**
 * The subscriber numbers of one unit of work: a tenant's counter row is locked on first use (the
 * lock serialises concurrent intakes until the unit commits), its numbers are counted in memory
 * and the row written back once, before commit: two statements per tenant per unit instead of
 * one per subscriber. A unit that rolls back gives its numbers back with it.
 */
export class NumberCounters {
  private readonly counters = new Map<string, { last: number; written: number }>();

  constructor(private readonly tx: Tx) {}

  async next(tenantId: string): Promise<number> {
    let c = this.counters.get(tenantId);
    if (!c) {
      const [row] = await clientOf(this.tx)<{ last_value: number }[]>`
        insert into subscriber.subscriber_numbers (tenant_id, last_value) values (${tenantId}, 0)
        on conflict (tenant_id) do update set last_value = subscriber.subscriber_numbers.last_value
        returning last_value`;
      if (!row) throw new Error(`no subscriber number counter for tenant ${tenantId}`);
      c = { last: row.last_value, written: row.last_value };
      this.counters.set(tenantId, c);
    }
    c.last += 1;
    return c.last;
  }

  async flush(): Promise<void> {
    for (const [tenantId, c] of this.counters) {
      if (c.last === c.written) continue;
      await clientOf(this.tx)`update subscriber.subscriber_numbers set last_value = ${c.last} where tenant_id = ${tenantId}`;
      c.written = c.last;
    }
  }
}

export interface NewRow {
  readonly tenantId: string;
  readonly subscriberNumber: string;
  readonly orderId: string;
  readonly crmReference: string;
  readonly tracked: Tracked;
}

export async function insertSubscriber(tx: Tx, r: NewRow): Promise<void> {
  await tx.insert(subscribers).values({
    tenantId: r.tenantId,
    subscriberId: r.tracked.view.subscriber_id,
    subscriberNumber: r.subscriberNumber,
    orderId: r.orderId,
    crmReference: r.crmReference,
    correlationId: r.tracked.correlation_id,
    status: r.tracked.status,
    view: storedView(r.tracked.view),
    skippedSteps: [...r.tracked.skipped],
    lastEventId: r.tracked.last_event_id,
    lastProgressAt: new Date(r.tracked.last_progress_at),
    pendingOrder: r.tracked.pending,
  });
}

/** New subscribers' rows in one statement (a unit of work's, before it commits). */
export async function insertSubscribers(tx: Tx, rows: readonly NewRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = rows.map((r) => ({
    tenant_id: r.tenantId,
    subscriber_id: r.tracked.view.subscriber_id,
    subscriber_number: r.subscriberNumber,
    order_id: r.orderId,
    crm_reference: r.crmReference,
    correlation_id: r.tracked.correlation_id,
    status: r.tracked.status,
    view: storedView(r.tracked.view),
    skipped_steps: r.tracked.skipped,
    last_event_id: r.tracked.last_event_id,
    last_progress_ms: r.tracked.last_progress_at,
    pending_order: r.tracked.pending,
  }));
  await clientOf(tx)`
    insert into subscriber.subscribers
      (tenant_id, subscriber_id, subscriber_number, order_id, crm_reference, correlation_id, status, view, skipped_steps, last_event_id, last_progress_at, pending_order)
    select x.tenant_id, x.subscriber_id, x.subscriber_number, x.order_id, x.crm_reference, x.correlation_id, x.status, x.view, x.skipped_steps, x.last_event_id,
           to_timestamp(x.last_progress_ms / 1000.0), x.pending_order
      from jsonb_to_recordset(${JSON.stringify(json)}::jsonb)
        as x(tenant_id text, subscriber_id uuid, subscriber_number text, order_id text, crm_reference text, correlation_id text, status text, view jsonb,
             skipped_steps jsonb, last_event_id text, last_progress_ms bigint, pending_order jsonb)`;
}

export async function saveTracked(tx: Tx, tenantId: string, t: Tracked): Promise<void> {
  await trackedStore.save(tx, [{ key: { tenant_id: tenantId, subscriber_id: t.view.subscriber_id }, state: t }]);
}

/**
 * Subscribers still provisioning with no progress since `before` (of `tenants`, or of every
 * tenant when empty), locked; rows another instance holds are skipped, so two sweeps never fail
 * the same subscriber twice. Each row is then handled within its own tenant.
 */
export async function lockStale(tx: Tx, before: Date, limit: number, tenants: readonly string[] = []): Promise<SubscriberRow[]> {
  const scope = tenants.length > 0 ? inArray(subscribers.tenantId, [...tenants]) : undefined;
  return tx
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.status, "provisioning"), lte(subscribers.lastProgressAt, before), scope))
    .orderBy(asc(subscribers.lastProgressAt))
    .limit(limit)
    .for("update", { skipLocked: true });
}

/**
 * Subscribers still provisioning whose profile step has not answered (neither a profile nor a
 * skip) since `before`, locked as lockStale locks. Only those: a crowd waiting on a later step
 * never hides them.
 */
export async function lockAwaitingProfile(tx: Tx, before: Date, limit: number, tenants: readonly string[] = []): Promise<SubscriberRow[]> {
  const scope = tenants.length > 0 ? inArray(subscribers.tenantId, [...tenants]) : undefined;
  return tx
    .select()
    .from(subscribers)
    .where(
      and(
        eq(subscribers.status, "provisioning"),
        lte(subscribers.lastProgressAt, before),
        sql`not (${subscribers.skippedSteps} ? 'profile') and not coalesce(${subscribers.view}->'progress'->'succeeded' ? 'profile', false)`,
        scope,
      ),
    )
    .orderBy(asc(subscribers.lastProgressAt))
    .limit(limit)
    .for("update", { skipLocked: true });
}

/**
 * Subscribers with a suspend, resume or plan change in flight and no progress since `before` (of
 * `tenants`, or of every tenant), oldest first, locked (SKIP LOCKED: a row a handler holds is
 * left for later). A termination that already stalled (OrderFailed sent) waits for its retry.
 */
export async function lockStalePending(tx: Tx, before: Date, limit: number, tenants: readonly string[] = []): Promise<SubscriberRow[]> {
  const scope = tenants.length > 0 ? inArray(subscribers.tenantId, [...tenants]) : undefined;
  return tx
    .select()
    .from(subscribers)
    .where(and(isNotNull(subscribers.pendingOrder), sql`${subscribers.pendingOrder}->'stalled' is null`, lte(subscribers.lastProgressAt, before), scope))
    .orderBy(asc(subscribers.lastProgressAt))
    .limit(limit)
    .for("update", { skipLocked: true });
}

/** True when the tenant already accepted a lifecycle order with this id. */
export async function lifecycleOrderAccepted(tx: Tx, tenantId: string, orderId: string): Promise<boolean> {
  return (await lifecycleOrdersAccepted(tx, [{ tenantId, orderId }])).has(orderKey(tenantId, orderId));
}

/** Which of these lifecycle orders (tenant, order id) the tenant already accepted: one statement for a unit of work. */
export async function lifecycleOrdersAccepted(tx: Tx, orders: ReadonlyArray<{ readonly tenantId: string; readonly orderId: string }>): Promise<Set<string>> {
  if (orders.length === 0) return new Set();
  // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
  // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
  const rows = await clientOf(tx)<{ tenant_id: string; order_id: string }[]>`
    select o.tenant_id, o.order_id
      from jsonb_to_recordset(${JSON.stringify(orders.map((x) => ({ tenant_id: x.tenantId, order_id: x.orderId })))}::jsonb) as k(tenant_id text, order_id text)
      cross join lateral (select * from subscriber.lifecycle_orders o where o.tenant_id = k.tenant_id and o.order_id = k.order_id offset 0) o`;
  return new Set(rows.map((r) => orderKey(r.tenant_id, r.order_id)));
}

/** Lifecycle orders accepted in one unit of work, recorded in one statement. */
export async function recordLifecycleOrders(tx: Tx, rows: ReadonlyArray<{ tenantId: string; orderId: string; subscriberId: string; orderType: string }>): Promise<void> {
  if (rows.length === 0) return;
  await clientOf(tx)`
    insert into subscriber.lifecycle_orders (tenant_id, order_id, subscriber_id, order_type)
    select x.tenant_id, x.order_id, x.subscriber_id, x.order_type
      from jsonb_to_recordset(${JSON.stringify(rows.map((r) => ({ tenant_id: r.tenantId, order_id: r.orderId, subscriber_id: r.subscriberId, order_type: r.orderType })))}::jsonb)
        as x(tenant_id text, order_id text, subscriber_id uuid, order_type text)`;
}

export async function recordLifecycleOrder(tx: Tx, r: { tenantId: string; orderId: string; subscriberId: string; orderType: string }): Promise<void> {
  await tx.insert(lifecycleOrders).values(r);
}

/**
 * The rows of a batch's subscribers, locked (in key order, so two batches never deadlock on
 * each other) and loaded in one query; the changed ones written back in one. Ids that are not
 * ours (not UUIDs) are never looked up.
 */
export const trackedStore: StateStore<Tracked> = {
  async load(tx, keys) {
    const out = new Map<string, Tracked>();
    const ours = keys.filter((k) => isSubscriberId(k.subscriber_id));
    if (ours.length === 0) return out;
    const wanted = new Set(ours.map(keyString));
    const rows = await tx
      .select()
      .from(subscribers)
      .where(and(inArray(subscribers.tenantId, [...new Set(ours.map((k) => k.tenant_id))]), inArray(subscribers.subscriberId, ours.map((k) => k.subscriber_id))))
      .orderBy(asc(subscribers.tenantId), asc(subscribers.subscriberId))
      .for("update");
    for (const r of rows) {
      const ks = keyString({ tenant_id: r.tenantId, subscriber_id: r.subscriberId });
      if (wanted.has(ks)) out.set(ks, toTracked(r));
    }
    return out;
  },
  async save(tx, changed) {
    const rows = changed.map(({ key, state: t }) => ({
      tenant_id: key.tenant_id,
      subscriber_id: key.subscriber_id,
      status: t.status,
      view: storedView(t.view),
      skipped_steps: t.skipped,
      last_event_id: t.last_event_id,
      last_progress_ms: t.last_progress_at,
      pending_order: t.pending,
    }));
    await tx.execute(sql`
      update ${subscribers} s set
        status = x.status, view = x.view, skipped_steps = x.skipped_steps, last_event_id = x.last_event_id,
        last_progress_at = to_timestamp(x.last_progress_ms / 1000.0), pending_order = x.pending_order, updated_at = now()
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as x(tenant_id text, subscriber_id uuid, status text, view jsonb, skipped_steps jsonb, last_event_id text, last_progress_ms bigint, pending_order jsonb)
      where s.tenant_id = x.tenant_id and s.subscriber_id = x.subscriber_id`);
  },
};

/** Plan changes accepted for a later date, one statement for a unit of work's; an order id already held is kept. */
export async function insertScheduled(tx: Tx, rows: readonly ScheduledChange[]): Promise<void> {
  if (rows.length === 0) return;
  await tx
    .insert(scheduledChanges)
    .values(
      rows.map((r) => ({
        tenantId: r.tenant_id,
        orderId: r.order_id,
        subscriberId: r.subscriber_id,
        effectiveDate: r.effective_date,
        servicePlanId: r.service_plan_id,
        bandwidthMbps: r.bandwidth_mbps,
        causeEventId: r.cause_event_id,
        correlationId: r.correlation_id,
      })),
    )
    .onConflictDoNothing();
}

/**
 * Scheduled plan changes due by `today` (YYYY-MM-DD), or whose subscriber is gone (archived,
 * rolled back, failed: they fail at once rather than on their date), oldest date first, locked
 * (SKIP LOCKED: two sweeps never release one twice).
 */
export async function lockDueChanges(tx: Tx, today: string, limit: number, tenants: readonly string[] = []): Promise<ScheduledChange[]> {
  const scope = tenants.length > 0 ? inArray(scheduledChanges.tenantId, [...tenants]) : undefined;
  const gone = sql`exists (select 1 from ${subscribers} u where u.tenant_id = ${scheduledChanges.tenantId} and u.subscriber_id = ${scheduledChanges.subscriberId}
                            and u.status in ('archived', 'rolled_back', 'failed'))`;
  const rows = await tx
    .select()
    .from(scheduledChanges)
    .where(and(or(lte(scheduledChanges.effectiveDate, today), gone), scope))
    .orderBy(asc(scheduledChanges.effectiveDate), asc(scheduledChanges.createdAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  return rows.map((r) => ({
    tenant_id: r.tenantId,
    order_id: r.orderId,
    subscriber_id: r.subscriberId,
    service_plan_id: r.servicePlanId,
    bandwidth_mbps: r.bandwidthMbps,
    effective_date: r.effectiveDate,
    cause_event_id: r.causeEventId,
    correlation_id: r.correlationId,
  }));
}

export async function deleteScheduled(tx: Tx, tenantId: string, orderId: string): Promise<void> {
  await tx.delete(scheduledChanges).where(and(eq(scheduledChanges.tenantId, tenantId), eq(scheduledChanges.orderId, orderId)));
}
