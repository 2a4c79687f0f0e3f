// The billing service's decisions, pure: given what it knows of a subscriber (the view, already
// evolved with the incoming event), its own state and the tenant's price for the plan, which
// events to emit and which changes to make to the billing records.
// - OnuActivated / OnuActivationSkipped → record the service (active) or fail without a price.
// - Provisioning failed, every later step undone (mayCompensate) → cancel the record (rollback).
// - SubscriberSuspendRequested → suspended → BillingServiceSuspended; SubscriberResumeRequested
//   → active → BillingServiceResumed.
// - SubscriberPlanChangeRequested → the new plan is charged from effective_date (a new plan
//   period; the open one ends the day before) → BillingPlanChanged; no price for the new plan →
//   BillingPlanChangeFailed (price_not_configured) and nothing changes.
// - SubscriberPlanChangeFailed (another step failed a plan change billing had applied) → the plan
//   kept is charged again from the same date (the failed change's period goes) →
//   BillingPlanChanged {reverts_order_id}.
// - Termination, billing's turn in the teardown order (teardownDue) → terminated, ended_at →
//   BillingServiceTerminated.
// Every branch emits nothing when its outcome already happened.
import type { Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import { mayCompensate } from "../../shared/progress.js";
import type { SubscriberView } from "../../shared/subscriber-view.js";
import { teardownDue } from "../../shared/teardown.js";

export type BillingStatus = "active" | "cancelled" | "suspended" | "terminated";

/** What billing itself decided for one subscriber. */
export interface BillingState {
  readonly outcome: "created" | "failed" | null;
  readonly service_id: string | null;
  readonly cancelled: boolean;
  /** The service's status as billing last set it; absent on states stored before suspend existed. */
  readonly status?: BillingStatus;
  /** The plan change orders already applied (or refused), so a second one for the same order does nothing. */
  readonly plan_orders?: readonly string[];
  /** Of those, the ones billing applied: a failed plan change puts back only what billing moved. */
  readonly plans_applied?: readonly string[];
  /**
   * YYYY-MM-DD: the start of the plan period charged now (the service's start, or its last plan
   * change); a plan change dated before it would rewrite what was charged, and is refused.
   * Absent on states stored before it existed.
   */
  readonly period_start?: string;
}

export const initialBillingState: BillingState = { outcome: null, service_id: null, cancelled: false };

export interface Price {
  readonly monthly_price_cents: number;
  readonly currency: string;
}

export type BillingEffect =
  | {
      readonly kind: "create-service";
      readonly service_id: string;
      readonly tenant_id: string;
      readonly subscriber_id: string;
      readonly plan_id: string;
      readonly price: Price;
      readonly started_at: number;
    }
  | { readonly kind: "cancel-service"; readonly tenant_id: string; readonly service_id: string; readonly ended_at: number }
  | { readonly kind: "set-status"; readonly tenant_id: string; readonly service_id: string; readonly status: "active" | "suspended" }
  | { readonly kind: "terminate-service"; readonly tenant_id: string; readonly service_id: string; readonly ended_at: number }
  | {
      readonly kind: "change-plan";
      readonly tenant_id: string;
      readonly service_id: string;
      readonly plan_id: string;
      readonly price: Price;
      /** YYYY-MM-DD: the new plan period starts that day. */
      readonly starts_on: string;
      /** YYYY-MM-DD: the day before, when the previous period ends. */
      readonly previous_ends_on: string;
    }
  | {
      /** A failed plan change undone: its period (and any later one) goes; the kept plan is charged from `starts_on` again. */
      readonly kind: "revert-plan";
      readonly tenant_id: string;
      readonly service_id: string;
      readonly plan_id: string;
      readonly price: Price;
      readonly starts_on: string;
      readonly previous_ends_on: string;
    };

export interface BillingDecision {
  readonly events: readonly Message[];
  readonly effects: readonly BillingEffect[];
  readonly state: BillingState;
}

/** ONU activated, or no ONU to activate: the line is up, billing starts. */
export const isTrigger = (m: Message): boolean => m.type === "OnuActivated" || m.type === "OnuActivationSkipped";

/** The events that need the price of the subscriber's (new) plan. */
export const needsPrice = (m: Message): boolean => isTrigger(m) || m.type === "SubscriberPlanChangeRequested" || m.type === "SubscriberPlanChangeFailed";

/** An effective date the contract allows but no decision can serve. */
export class InvalidDate extends Error {
  override readonly name = "InvalidDate";
}

/** "2026-12-01" → "2026-11-30"; throws InvalidDate for anything that is not a calendar date. */
export function dayBefore(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date) throw new InvalidDate(`effective_date '${date}' is not a YYYY-MM-DD date`);
  return new Date(t - 86_400_000).toISOString().slice(0, 10);
}

const statusOf = (state: BillingState): BillingStatus | null =>
  state.status ?? (state.cancelled ? "cancelled" : state.outcome === "created" ? "active" : null);

function lifecycle(view: SubscriberView, state: BillingState, event: Message, price: Price | null, ctx: EventContext): BillingDecision | null {
  const none: BillingDecision = { events: [], effects: [], state };
  const serviceId = state.service_id ?? view.billing_service_id;
  const status = statusOf(state);
  if (teardownDue(view, "billing") && serviceId && status !== "terminated") {
    return {
      events: [follow(ctx, event, "BillingServiceTerminated", { service_id: serviceId })],
      effects: [{ kind: "terminate-service", tenant_id: view.tenant_id, service_id: serviceId, ended_at: ctx.now() }],
      state: { ...state, service_id: serviceId, status: "terminated" },
    };
  }
  switch (event.type) {
    case "SubscriberSuspendRequested":
      if (!serviceId || status !== "active") return none;
      return {
        events: [follow(ctx, event, "BillingServiceSuspended", { service_id: serviceId })],
        effects: [{ kind: "set-status", tenant_id: view.tenant_id, service_id: serviceId, status: "suspended" }],
        state: { ...state, service_id: serviceId, status: "suspended" },
      };
    case "SubscriberResumeRequested":
      if (!serviceId || status !== "suspended") return none;
      return {
        events: [follow(ctx, event, "BillingServiceResumed", { service_id: serviceId })],
        effects: [{ kind: "set-status", tenant_id: view.tenant_id, service_id: serviceId, status: "active" }],
        state: { ...state, service_id: serviceId, status: "active" },
      };
    case "SubscriberPlanChangeRequested": {
      const orders = state.plan_orders ?? [];
      if (!serviceId || orders.includes(event.data.order_id) || status === "terminated" || status === "cancelled") return none;
      const { service_plan_id, effective_date } = event.data;
      const previous_ends_on = dayBefore(effective_date);
      const next = { ...state, service_id: serviceId, plan_orders: [...orders, event.data.order_id].slice(-20) };
      if (state.period_start !== undefined && effective_date < state.period_start) {
        const reason = `effective_date ${effective_date} is before the plan period charged since ${state.period_start}; a plan change cannot rewrite what was charged`;
        return {
          events: [follow(ctx, event, "BillingPlanChangeFailed", { service_id: serviceId, service_plan_id, code: "effective_date_before_current_period", reason })],
          effects: [],
          state: next,
        };
      }
      if (!price) {
        return {
          events: [
            follow(ctx, event, "BillingPlanChangeFailed", {
              service_id: serviceId,
              service_plan_id,
              code: "price_not_configured",
              reason: `no price configured for plan ${service_plan_id} of tenant ${view.tenant_id}`,
            }),
          ],
          effects: [],
          state: next,
        };
      }
      return {
        events: [follow(ctx, event, "BillingPlanChanged", { service_id: serviceId, service_plan_id, effective_date, reverts_order_id: null })],
        effects: [{ kind: "change-plan", tenant_id: view.tenant_id, service_id: serviceId, plan_id: service_plan_id, price, starts_on: effective_date, previous_ends_on }],
        state: { ...next, plans_applied: [...(state.plans_applied ?? []), event.data.order_id].slice(-20), period_start: effective_date },
      };
    }
    case "SubscriberPlanChangeFailed": {
      const applied = state.plans_applied ?? [];
      const { order_id, service_plan_id, effective_date } = event.data;
      if (!serviceId || !applied.includes(order_id) || status === "terminated" || status === "cancelled") return none;
      const next = { ...state, service_id: serviceId, plans_applied: applied.filter((o) => o !== order_id) };
      if (!price) {
        const reason = `the plan change of order ${order_id} could not be undone: no price configured for plan ${service_plan_id} of tenant ${view.tenant_id}`;
        return { events: [follow(ctx, event, "BillingPlanChangeFailed", { service_id: serviceId, service_plan_id, code: "price_not_configured", reason })], effects: [], state: next };
      }
      return {
        events: [follow(ctx, event, "BillingPlanChanged", { service_id: serviceId, service_plan_id, effective_date, reverts_order_id: order_id })],
        effects: [{ kind: "revert-plan", tenant_id: view.tenant_id, service_id: serviceId, plan_id: service_plan_id, price, starts_on: effective_date, previous_ends_on: dayBefore(effective_date) }],
        state: next,
      };
    }
    default:
      return null;
  }
}

export function decide(view: SubscriberView, state: BillingState, event: Message, price: Price | null, ctx: EventContext): BillingDecision {
  const none: BillingDecision = { events: [], effects: [], state };
  const later = lifecycle(view, state, event, price, ctx);
  if (later) return later;
  const serviceId = state.service_id ?? view.billing_service_id;
  if (mayCompensate(view.progress, "billing") && !state.cancelled && serviceId) {
    const ended_at = ctx.now();
    return {
      events: [follow(ctx, event, "BillingServiceCancelled", { service_id: serviceId, reason: "rollback" })],
      effects: [{ kind: "cancel-service", tenant_id: view.tenant_id, service_id: serviceId, ended_at }],
      state: { ...state, service_id: serviceId, cancelled: true, status: "cancelled" },
    };
  }
  if (!isTrigger(event) || state.outcome !== null) return none;
  // Provisioning failed before our turn came: nothing to bill, nothing to undo.
  if (view.progress.failure) return none;
  if (!price) {
    return {
      events: [
        follow(ctx, event, "BillingServiceCreationFailed", {
          code: "price_not_configured",
          reason: `no price configured for plan ${view.service_plan_id} of tenant ${view.tenant_id}`,
        }),
      ],
      effects: [],
      state: { ...state, outcome: "failed" },
    };
  }
  const service_id = ctx.newId();
  return {
    events: [follow(ctx, event, "BillingServiceCreated", { service_id, service_plan_id: view.service_plan_id, status: "active" })],
    effects: [
      {
        kind: "create-service",
        service_id,
        tenant_id: view.tenant_id,
        subscriber_id: view.subscriber_id,
        plan_id: view.service_plan_id,
        price,
        started_at: ctx.now(),
      },
    ],
    state: { ...state, outcome: "created", service_id, status: "active", period_start: new Date(ctx.now()).toISOString().slice(0, 10) },
  };
}
