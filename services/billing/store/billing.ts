// Store functions of billing: prices (CLI and tests), billing service records, and what it
// keeps per subscriber. Every function takes the tenant and touches only that tenant's rows.
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import type { BillingEffect, BillingState, Price } from "../decide.js";
import { billingServices, prices, subscribers } from "./schema.js";

type Conn = Pick<Db, "select" | "insert" | "update" | "delete">;

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
    case "create-service":
      await db
        .insert(billingServices)
        .values({
          serviceId: effect.service_id,
          tenantId: effect.tenant_id,
          subscriberId: effect.subscriber_id,
          planId: effect.plan_id,
          monthlyPriceCents: effect.price.monthly_price_cents,
          currency: effect.price.currency,
          status: "active",
          startedAt: new Date(effect.started_at),
        })
        .onConflictDoNothing();
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

/** Locks the row for the rest of the transaction. */
export async function loadSubscriber(db: Conn, tenant: string, subscriberId: string) {
  const [row] = await db
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenant), eq(subscribers.subscriberId, subscriberId)))
    .for("update");
  return row ? { view: row.view, state: row.state } : null;
}

export async function saveSubscriber(db: Conn, view: SubscriberView, state: BillingState): Promise<void> {
  await db
    .insert(subscribers)
    .values({ tenantId: view.tenant_id, subscriberId: view.subscriber_id, view, state })
    .onConflictDoUpdate({ target: [subscribers.tenantId, subscribers.subscriberId], set: { view, state, updatedAt: new Date() } });
}
