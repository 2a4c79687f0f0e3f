// Lifecycle orders (suspend, resume, modify, terminate), pure: reject what makes no sense with a
// named reason, or accept (OrderAccepted + the *Requested lifecycle event) and track the order in
// flight until the services' answers complete it (see decide-outcome.ts).
import type { EventData, Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import type { Outgoing } from "../../shared/outbox.js";
import { evolveView, phaseOf } from "../../shared/subscriber-view.js";
import { topics } from "../../shared/topics.js";
import { lifecycleContentReasons } from "./checks.js";
import { fieldLimits, shown, unanswerable, type Plan, type Reason } from "./decide.js";
import type { Tracked } from "./decide-outcome.js";

export const lifecycleOrderTypes = ["suspend", "resume", "modify", "terminate"] as const;
export type LifecycleOrderType = (typeof lifecycleOrderTypes)[number];

/** The answer each step gives; what a pending order waits for. */
export type Answer = "radius" | "billing" | "olt";

/** The lifecycle order in flight on a subscriber: at most one at a time. */
export interface PendingOrder {
  readonly order_id: string;
  readonly order_type: LifecycleOrderType;
  /** The steps that answered so far. */
  readonly answers: readonly Answer[];
  /** Modify only: the plan ordered. */
  readonly service_plan_id?: string;
  /** Modify only: the plan and bandwidth before the change (put back if it fails), and its date. */
  readonly previous?: { readonly service_plan_id: string; readonly bandwidth_mbps: number };
  readonly effective_date?: string;
  /**
   * Terminate only: the teardown stopped (a part refused, or its deadline passed) and the CRM heard
   * OrderFailed; the subscriber waits, degraded, for a new terminate order (the retry).
   */
  readonly stalled?: { readonly step: string; readonly code: string; readonly reason: string };
}

export type LifecycleOrder =
  | Message<"SuspendOrderPlaced">
  | Message<"ResumeOrderPlaced">
  | Message<"ModifyOrderPlaced">
  | Message<"TerminateOrderPlaced">;

export const orderTypeOf = (o: LifecycleOrder): LifecycleOrderType =>
  o.type === "SuspendOrderPlaced" ? "suspend" : o.type === "ResumeOrderPlaced" ? "resume" : o.type === "ModifyOrderPlaced" ? "modify" : "terminate";

export interface LifecycleOrderInput {
  readonly order: LifecycleOrder;
  /** The subscriber of the order's tenant, or null when the tenant has none with that id. */
  readonly state: Tracked | null;
  /** Modify: the tenant's plan the order names (null when none named or not in the catalogue). */
  readonly plan: Plan | null;
  /** True when (tenant, order_id) was already accepted. */
  readonly alreadyAccepted: boolean;
  /** The effective date when the order gives none (today, ISO). */
  readonly today: string;
}

/** A plan change held until its date (subscriber.scheduled_plan_changes). */
export interface ScheduledChange {
  readonly tenant_id: string;
  readonly order_id: string;
  readonly subscriber_id: string;
  readonly service_plan_id: string;
  readonly bandwidth_mbps: number;
  readonly effective_date: string;
  /** The SubscriberPlanChangeScheduled event. */
  readonly cause_event_id: string;
  readonly correlation_id: string;
}

export type LifecycleOrderDecision =
  | { readonly kind: "duplicate" }
  | { readonly kind: "scheduled"; readonly schedule: ScheduledChange; readonly outgoing: readonly Outgoing[] }
  | { readonly kind: "rejected"; readonly reasons: readonly Reason[]; readonly outgoing: readonly Outgoing[] }
  | { readonly kind: "accepted"; readonly state: Tracked; readonly outgoing: readonly Outgoing[] };

const reason = (field: string | null, code: string, message: string): Reason => ({ field, code, message });
const given = (s: string | null): string | null => (s === null || s.trim() === "" ? null : s.trim());

/** The longest text a lifecycle order's fields may hold (characters); see decide.ts fieldLimits. */
export const lifecycleFieldLimits = { order_id: fieldLimits.order_id, reason: 500, effective_date: 10 } as const;

/** Why no answer can be given on the order's own key (an order id over its limit: the DLQ takes it), or null. */
export const lifecycleUnanswerable = (order: LifecycleOrder): string | null => unanswerable(order);

function lengthReasons(order: LifecycleOrder): Reason[] {
  const out: Reason[] = [];
  const d = order.data as { reason?: string | null; effective_date?: string | null };
  for (const field of ["reason", "effective_date"] as const) {
    const v = d[field];
    const max = lifecycleFieldLimits[field];
    if (typeof v === "string" && v.length > max) out.push(reason(field, "too_long", `${field} is ${v.length} characters long; at most ${max} are accepted`));
  }
  return out;
}

/** The first day of the billing period `today` (YYYY-MM-DD) lies in: billing periods are calendar months. */
export const periodStart = (today: string): string => `${today.slice(0, 7)}-01`;

/** A modify order's effective date when it lies after `today`: the change is scheduled for it. */
export function scheduledFor(order: LifecycleOrder, today: string): string | null {
  if (order.type !== "ModifyOrderPlaced") return null;
  const date = given(order.data.effective_date);
  return date !== null && date > today ? date : null;
}

/** Why the order cannot be carried out, or [] when it can. `today` (YYYY-MM-DD) dates a modify order. */
export function orderReasons({ order, state, plan, today }: Pick<LifecycleOrderInput, "order" | "state" | "plan"> & { readonly today?: string }): Reason[] {
  const type = orderTypeOf(order);
  // What needs only the order comes first: a malformed order gets the same answer whatever the subscriber's state.
  const malformed = [...lengthReasons(order), ...lifecycleContentReasons(order.data as Parameters<typeof lifecycleContentReasons>[0])];
  if (malformed.length > 0) return malformed;
  // Unknown and another tenant's subscriber get the same answer, so nothing of another tenant leaks.
  if (state === null) return [reason("subscriber_id", "unknown_subscriber", `no subscriber ${shown(order.data.subscriber_id)}`)];
  const phase = phaseOf(state.view);
  if (phase === "archived" || state.status === "archived") return [reason("subscriber_id", "subscriber_archived", "the subscriber is archived")];
  // A termination that stopped half-way is retried by a new terminate order; nothing else goes on meanwhile.
  if (state.pending?.stalled && type === "terminate") return [];
  if (state.pending?.stalled) {
    return [reason(null, "teardown_stalled", `termination ${state.pending.order_id} stopped at ${state.pending.stalled.step} (${state.pending.stalled.code}); retry it with a terminate order`)];
  }
  // A change for a later date does not wait for what is in flight today: it is held until its date.
  const later = today !== undefined && scheduledFor(order, today) !== null;
  if (state.pending && !later) {
    return [reason(null, "operation_in_progress", `${state.pending.order_type} order ${state.pending.order_id} is still in flight`)];
  }
  switch (type) {
    case "suspend":
      return phase === "active" ? [] : [reason(null, "not_active", `only an active subscriber can be suspended (it is ${phase})`)];
    case "resume":
      return phase === "suspended" ? [] : [reason(null, "not_suspended", `only a suspended subscriber can be resumed (it is ${phase})`)];
    case "terminate":
      // Rejected rather than held until provisioning ends: the outcome is predictable, no order
      // is buffered, and the CRM retries once it has seen OrderCompleted / OrderFailed.
      if (phase === "provisioning") return [reason(null, "provisioning_in_flight", "provisioning is still in flight; retry after it completes or fails")];
      // A rollback that a part refused (the ONU kept its flow) is cleaned up by a termination.
      if (state.status === "failed" && state.view.onu_deactivation_refused === true) return [];
      if (phase === "failed" || state.status === "rolled_back" || state.status === "failed") {
        return [reason(null, "not_provisioned", "the subscriber was never provisioned (its provisioning failed)")];
      }
      return phase === "active" || phase === "suspended" ? [] : [reason(null, "operation_in_progress", `the subscriber is ${phase}`)];
    case "modify":
      return modifyReasons(order as Message<"ModifyOrderPlaced">, state, plan, phase, today, later);
  }
}

function modifyReasons(order: Message<"ModifyOrderPlaced">, state: Tracked, plan: Plan | null, phase: string, today: string | undefined, later: boolean): Reason[] {
  // Today's change needs an active line; one for a later date only a live one (it is checked again on its date).
  if (phase !== "active" && !(later && phase === "suspended")) return [reason(null, "not_active", `only an active subscriber can change plan (it is ${phase})`)];
  const date = given(order.data.effective_date);
  if (today !== undefined && date !== null && date < periodStart(today)) {
    // The billing periods before the current one are closed: a change may reach back within it, no further.
    return [reason("effective_date", "effective_date_before_current_period", `effective_date ${date} is before the current billing period (from ${periodStart(today)}); a plan change may be backdated within it only`)];
  }
  const planId = given(order.data.service_plan_id);
  const bw = order.data.bandwidth_mbps;
  const out: Reason[] = [];
  if (planId !== null && plan === null) out.push(reason("service_plan_id", "unknown_plan", `plan "${shown(planId)}" is not in the tenant's catalogue`));
  if (bw !== null && (!Number.isInteger(bw) || bw <= 0)) out.push(reason("bandwidth_mbps", "invalid_bandwidth", `bandwidth_mbps ${bw} is not a positive whole number`));
  if (out.length > 0) return out;
  const target = planChange(order, state, plan);
  if (target.service_plan_id === state.view.service_plan_id && target.bandwidth_mbps === state.view.bandwidth_mbps) {
    return [reason(null, "no_change", "the order changes neither the plan nor the bandwidth")];
  }
  return [];
}

/** The plan and bandwidth after the change: the order's, else the plan's bandwidth, else the current. */
function planChange(order: Message<"ModifyOrderPlaced">, state: Tracked, plan: Plan | null): { service_plan_id: string; bandwidth_mbps: number } {
  const planId = given(order.data.service_plan_id) ?? state.view.service_plan_id;
  const bandwidth = order.data.bandwidth_mbps ?? (plan && planId !== state.view.service_plan_id ? plan.bandwidth_mbps : state.view.bandwidth_mbps);
  return { service_plan_id: planId, bandwidth_mbps: bandwidth };
}

function requested(input: LifecycleOrderInput, state: Tracked, ctx: EventContext): Message {
  const { order } = input;
  const sub = { subscriber_id: state.view.subscriber_id };
  const order_id = order.data.order_id;
  switch (order.type) {
    case "SuspendOrderPlaced": {
      const data: EventData<"SubscriberSuspendRequested"> = {
        order_id,
        reason: given(order.data.reason),
        network_profile_id: state.view.network_profile_id,
        network: state.view.network,
      };
      return follow(ctx, order, "SubscriberSuspendRequested", data, sub);
    }
    case "ResumeOrderPlaced":
      return follow(ctx, order, "SubscriberResumeRequested", { order_id }, sub);
    case "ModifyOrderPlaced": {
      const target = planChange(order, state, input.plan);
      return follow(ctx, order, "SubscriberPlanChangeRequested", { order_id, ...target, effective_date: given(order.data.effective_date) ?? input.today }, sub);
    }
    case "TerminateOrderPlaced":
      return follow(ctx, order, "SubscriberTerminationRequested", { order_id, reason: given(order.data.reason) }, sub);
  }
}

/** Duplicate (nothing), rejected (OrderRejected, nothing else) or accepted (OrderAccepted + *Requested, order tracked). */
export function decideLifecycleOrder(input: LifecycleOrderInput, ctx: EventContext): LifecycleOrderDecision {
  if (input.alreadyAccepted) return { kind: "duplicate" };
  const { order, state } = input;
  const order_type = orderTypeOf(order);
  const order_id = order.data.order_id;
  const reasons = orderReasons(input);
  if (reasons.length > 0 || state === null) {
    const rejected = follow(ctx, order, "OrderRejected", { order_id, order_type, reasons });
    return { kind: "rejected", reasons, outgoing: [{ message: rejected, topic: topics.orderStatus, key: order_id }] };
  }
  const { subscriber_id, subscriber_number } = state.view;
  const accepted = follow(ctx, order, "OrderAccepted", { order_id, order_type, subscriber_id, subscriber_number }, { subscriber_id });
  const date = scheduledFor(order, input.today);
  if (date !== null && order.type === "ModifyOrderPlaced") {
    // Held until its date: nothing changes today, in any service.
    const target = planChange(order, state, input.plan);
    const scheduled = follow(ctx, order, "SubscriberPlanChangeScheduled", { order_id, ...target, effective_date: date }, { subscriber_id });
    return {
      kind: "scheduled",
      schedule: { tenant_id: state.view.tenant_id, order_id, subscriber_id, ...target, effective_date: date, cause_event_id: scheduled.meta.event_id, correlation_id: scheduled.meta.correlation_id },
      outgoing: [
        { message: scheduled, topic: topics.lifecycle, key: subscriber_id },
        { message: accepted, topic: topics.orderStatus, key: order_id },
      ],
    };
  }
  const lifecycleEvent = requested(input, state, ctx);
  // Our own event goes into the view at once (terminating, the new plan); its echo is a no-op.
  const view = evolveView(state.view, lifecycleEvent) ?? state.view;
  const pending: PendingOrder = {
    order_id,
    order_type,
    answers: [],
    ...(lifecycleEvent.type === "SubscriberPlanChangeRequested"
      ? {
          service_plan_id: lifecycleEvent.data.service_plan_id,
          previous: { service_plan_id: state.view.service_plan_id, bandwidth_mbps: state.view.bandwidth_mbps },
          effective_date: lifecycleEvent.data.effective_date,
        }
      : {}),
  };
  const next: Tracked = {
    ...state,
    view,
    pending,
    status: order_type === "terminate" ? "terminating" : state.status,
    // The order's clock starts now: its deadline counts from here or from the last answer.
    last_progress_at: ctx.now(),
  };
  return {
    kind: "accepted",
    state: next,
    outgoing: [
      { message: lifecycleEvent, topic: topics.lifecycle, key: subscriber_id },
      { message: accepted, topic: topics.orderStatus, key: order_id },
    ],
  };
}

export type ReleaseDecision =
  | { readonly kind: "wait"; readonly why: string }
  | { readonly kind: "failed"; readonly outgoing: readonly Outgoing[] }
  | { readonly kind: "released"; readonly state: Tracked; readonly outgoing: readonly Outgoing[] };

/**
 * A scheduled plan change on its date (or its subscriber gone): it becomes the order in flight,
 * SubscriberPlanChangeRequested with its date, exactly as a change for today would, once no other
 * order is in flight; a subscriber terminated, terminating or never provisioned fails it.
 */
export function releaseScheduled(s: ScheduledChange, state: Tracked | null, ctx: EventContext): ReleaseDecision {
  const cause = { meta: { event_id: s.cause_event_id, occurred_at: ctx.now(), tenant_id: s.tenant_id, subscriber_id: s.subscriber_id, correlation_id: s.correlation_id, causation_id: null, producer: "subscriber" } };
  const phase = state ? phaseOf(state.view) : "archived";
  if (!state || (phase !== "active" && phase !== "suspended") || state.pending?.stalled) {
    const why = `the subscriber is ${state?.pending?.stalled ? "terminating" : phase} on ${s.effective_date}, the plan change's date`;
    const failedOrder = follow(ctx, cause, "OrderFailed", { order_id: s.order_id, order_type: "modify", subscriber_id: s.subscriber_id, step: "subscriber", reason: why, code: "not_active" });
    return { kind: "failed", outgoing: [{ message: failedOrder, topic: topics.orderStatus, key: s.order_id }] };
  }
  if (state.pending) return { kind: "wait", why: `${state.pending.order_type} order ${state.pending.order_id} is in flight` };
  const request = follow(ctx, cause, "SubscriberPlanChangeRequested", { order_id: s.order_id, service_plan_id: s.service_plan_id, bandwidth_mbps: s.bandwidth_mbps, effective_date: s.effective_date }, { subscriber_id: s.subscriber_id });
  const pending: PendingOrder = {
    order_id: s.order_id,
    order_type: "modify",
    answers: [],
    service_plan_id: s.service_plan_id,
    previous: { service_plan_id: state.view.service_plan_id, bandwidth_mbps: state.view.bandwidth_mbps },
    effective_date: s.effective_date,
  };
  const next: Tracked = { ...state, view: evolveView(state.view, request) ?? state.view, pending, last_progress_at: ctx.now() };
  return { kind: "released", state: next, outgoing: [{ message: request, topic: topics.lifecycle, key: s.subscriber_id }] };
}
