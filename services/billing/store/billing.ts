// Store functions of billing: prices (CLI and tests) and billing service records (what it keeps
// per subscriber is the runtime's subscriber_state). Every function takes the tenant and touches only that tenant's rows.
import { and, asc, eq, gte, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { BillingEffect, Price } from "../decide.js";
import { billingServices, planPeriods, prices } from "./schema.js";

type Conn = Pick<Db, "select" | "insert" | "update" | "delete" | "execute">;

export async function setPrice(db: Conn, tenant: string, planId: string, price: Price): Promise<void> {
  const values = { monthlyPriceCents: price.monthly_price_cents, currency: price.currency, updatedAt: new Date() };
  await db
    .insert(prices)
    .values({ tenantId: tenant, planId, ...values })
    .onConflictDoUpdate({ target: [prices.tenantId, prices.planId], set: values });
}

export async function listPrices(db: Conn, tenant: string) {
  return db.select().from(prices).where(eq(prices.tenantId, tenant)).orderBy(asc(prices.planId));
}

export async function findPrice(db: Conn, tenant: string, planId: string): Promise<Price | null> {
  const [row] = await db.select().from(prices).where(and(eq(prices.tenantId, tenant), eq(prices.planId, planId)));
  return row ? { monthly_price_cents: row.monthlyPriceCents, currency: row.currency } : null;
}

export async function servicesOf(db: Conn, tenant: string, subscriberId: string) {
  return db
    .select()
    .from(billingServices)
    .where(and(eq(billingServices.tenantId, tenant), eq(billingServices.subscriberId, subscriberId)));
}

export async function applyEffect(db: Conn, effect: BillingEffect): Promise<void> {
  switch (effect.kind) {
    case "create-service": {
      // The record and its first plan period in one statement (drizzle's `sql`: the query
      // builder's building cost more CPU than the inserts, docs/PERFORMANCE.md).
      const started = new Date(effect.started_at);
      const { monthly_price_cents: cents, currency } = effect.price;
      await db.execute(sql`
        with service as (
          insert into ${billingServices} (service_id, tenant_id, subscriber_id, plan_id, monthly_price_cents, currency, status, started_at)
          values (${effect.service_id}, ${effect.tenant_id}, ${effect.subscriber_id}, ${effect.plan_id}, ${cents}, ${currency}, 'active', ${started.toISOString()}::timestamptz)
          on conflict do nothing
        )
        insert into ${planPeriods} (tenant_id, service_id, starts_on, plan_id, monthly_price_cents, currency)
        values (${effect.tenant_id}, ${effect.service_id}, ${started.toISOString().slice(0, 10)}::date, ${effect.plan_id}, ${cents}, ${currency})
        on conflict do nothing`);
      return;
    }
    case "set-status":
      await db
        .update(billingServices)
        .set({ status: effect.status })
        .where(and(eq(billingServices.tenantId, effect.tenant_id), eq(billingServices.serviceId, effect.service_id)));
      return;
    case "terminate-service":
      await db
        .update(billingServices)
        .set({ status: "terminated", endedAt: new Date(effect.ended_at) })
        .where(and(eq(billingServices.tenantId, effect.tenant_id), eq(billingServices.serviceId, effect.service_id)));
      return;
    case "change-plan":
      await changePlan(db, effect);
      return;
    case "revert-plan":
      await revertPlan(db, effect);
      return;
    case "cancel-service":
      await db
        .update(billingServices)
        .set({ status: "cancelled", endedAt: new Date(effect.ended_at) })
        .where(and(eq(billingServices.tenantId, effect.tenant_id), eq(billingServices.serviceId, effect.service_id)));
      return;
    default: {
      const never: never = effect;
      throw new Error(`unknown effect ${JSON.stringify(never)}`);
    }
  }
}

type Bulk = Extract<BillingEffect, { kind: "create-service" | "set-status" }>;

/**
 * The effects of a unit of work that nothing in it reads back (new records, status changes),
 * held and applied in one statement per kind before it commits; any other effect applies the
 * held ones first, then itself (a plan change reads the record).
 */
export class EffectBatch {
  private readonly created: Extract<Bulk, { kind: "create-service" }>[] = [];
  /** The last status per service (a suspension and a resumption in one unit: the resumption). */
  private readonly statuses = new Map<string, Extract<Bulk, { kind: "set-status" }>>();

  constructor(private readonly db: Conn) {}

  async apply(effect: BillingEffect): Promise<void> {
    if (effect.kind === "create-service") this.created.push(effect);
    else if (effect.kind === "set-status") this.statuses.set(`${effect.tenant_id}\u0000${effect.service_id}`, effect);
    else {
      await this.flush();
      await applyEffect(this.db, effect);
    }
  }

  async flush(): Promise<void> {
    const created = this.created.splice(0);
    if (created.length > 0) {
      const rows = created.map((e) => ({
        service_id: e.service_id,
        tenant_id: e.tenant_id,
        subscriber_id: e.subscriber_id,
        plan_id: e.plan_id,
        cents: e.price.monthly_price_cents,
        currency: e.price.currency,
        started_at: new Date(e.started_at).toISOString(),
      }));
      await this.db.execute(sql`
        with x as (
          select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            as x(service_id text, tenant_id text, subscriber_id text, plan_id text, cents int, currency text, started_at timestamptz)
        ), service as (
          insert into ${billingServices} (service_id, tenant_id, subscriber_id, plan_id, monthly_price_cents, currency, status, started_at)
          select service_id, tenant_id, subscriber_id, plan_id, cents, currency, 'active', started_at from x
          on conflict do nothing
        )
        insert into ${planPeriods} (tenant_id, service_id, starts_on, plan_id, monthly_price_cents, currency)
        select tenant_id, service_id, (started_at at time zone 'UTC')::date, plan_id, cents, currency from x
        on conflict do nothing`);
    }
    const statuses = [...this.statuses.values()];
    this.statuses.clear();
    if (statuses.length > 0) {
      await this.db.execute(sql`
        update ${billingServices} b set status = x.status
          from jsonb_to_recordset(${JSON.stringify(statuses.map((e) => ({ tenant_id: e.tenant_id, service_id: e.service_id, status: e.status })))}::jsonb)
            as x(tenant_id text, service_id text, status text)
         where b.tenant_id = x.tenant_id and b.service_id = x.service_id`);
    }
  }
}

/**
 * The new plan is charged from `starts_on`: the open period ends the day before (a period that
 * would start on or after the new one is superseded and removed), the new period opens, and the
 * service record shows the current plan.
 */
async function changePlan(db: Conn, e: Extract<BillingEffect, { kind: "change-plan" }>): Promise<void> {
  const [service] = await db
    .select()
    .from(billingServices)
    .where(and(eq(billingServices.tenantId, e.tenant_id), eq(billingServices.serviceId, e.service_id)));
  if (!service) return;
  const ofService = and(eq(planPeriods.tenantId, e.tenant_id), eq(planPeriods.serviceId, e.service_id));
  const existing = await db.select().from(planPeriods).where(ofService);
  if (existing.length === 0) {
    // A service recorded before plan periods existed: its first period starts with the service.
    await db.insert(planPeriods).values({
      tenantId: e.tenant_id,
      serviceId: e.service_id,
      startsOn: service.startedAt.toISOString().slice(0, 10),
      planId: service.planId,
      monthlyPriceCents: service.monthlyPriceCents,
      currency: service.currency,
    });
  }
  await db.delete(planPeriods).where(and(ofService, gte(planPeriods.startsOn, e.starts_on)));
  await db
    .update(planPeriods)
    .set({ endsOn: e.previous_ends_on })
    .where(and(ofService, isNull(planPeriods.endsOn), lt(planPeriods.startsOn, e.starts_on)));
  await openPeriod(db, e);
  await showPlan(db, e);
}

/**
 * A failed plan change undone: the periods from its date go, and the kept plan is charged from
 * that date again: the period that ended the day before goes on when it charged the same plan at
 * the same price (the history reads as if nothing had changed), else a new period opens.
 */
async function revertPlan(db: Conn, e: Extract<BillingEffect, { kind: "revert-plan" }>): Promise<void> {
  const ofService = and(eq(planPeriods.tenantId, e.tenant_id), eq(planPeriods.serviceId, e.service_id));
  await db.delete(planPeriods).where(and(ofService, gte(planPeriods.startsOn, e.starts_on)));
  const reopened = await db
    .update(planPeriods)
    .set({ endsOn: null })
    .where(
      and(
        ofService,
        eq(planPeriods.endsOn, e.previous_ends_on),
        eq(planPeriods.planId, e.plan_id),
        eq(planPeriods.monthlyPriceCents, e.price.monthly_price_cents),
        eq(planPeriods.currency, e.price.currency),
      ),
    )
    .returning({ startsOn: planPeriods.startsOn });
  if (reopened.length === 0) await openPeriod(db, e);
  await showPlan(db, e);
}

type PlanFrom = Pick<Extract<BillingEffect, { kind: "change-plan" }>, "tenant_id" | "service_id" | "plan_id" | "price" | "starts_on">;

/** A plan period of `plan_id` at `price`, open from `starts_on`. */
async function openPeriod(db: Conn, e: PlanFrom): Promise<void> {
  await db.insert(planPeriods).values({
    tenantId: e.tenant_id,
    serviceId: e.service_id,
    startsOn: e.starts_on,
    planId: e.plan_id,
    monthlyPriceCents: e.price.monthly_price_cents,
    currency: e.price.currency,
  });
}

/** The service record shows the plan charged now. */
async function showPlan(db: Conn, e: PlanFrom): Promise<void> {
  await db
    .update(billingServices)
    .set({ planId: e.plan_id, monthlyPriceCents: e.price.monthly_price_cents, currency: e.price.currency })
    .where(and(eq(billingServices.tenantId, e.tenant_id), eq(billingServices.serviceId, e.service_id)));
}

/** The plan history of a service, oldest first. */
export async function planHistory(db: Conn, tenant: string, serviceId: string) {
  return db
    .select()
    .from(planPeriods)
    .where(and(eq(planPeriods.tenantId, tenant), eq(planPeriods.serviceId, serviceId)))
    .orderBy(asc(planPeriods.startsOn));
}

