// Provisioning outcome, pure: fold each lifecycle event about a subscriber into what we know of
// it, and decide what the CRM and the other services must hear: provisioned (billing created),
// failed (the first step failure, or no progress before the deadline), rolled back (every step
// that succeeded has undone its work). Each is emitted once: the status guards it.
import type { EventName, Message, Meta } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import type { Outgoing } from "../../shared/outbox.js";
import { provisionSteps, rolledBack, type Progress, type Step } from "../../shared/progress.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { remainingParts, tornDown } from "../../shared/teardown.js";
import type { Answer, PendingOrder } from "./decide-order.js";
import { topics } from "../../shared/topics.js";

export const statuses = ["provisioning", "active", "failed", "rolled_back", "suspended", "terminating", "archived"] as const;
export type Status = (typeof statuses)[number];

/** What the service keeps per subscriber (one row of `subscribers`). */
export interface Tracked {
  readonly status: Status;
  readonly view: SubscriberView;
  /** Steps that said "skipped" (no profile, not FTTH): passed, but nothing to undo. */
  readonly skipped: readonly Step[];
  readonly correlation_id: string;
  /** The last lifecycle event seen, and when (ms): the deadline counts from it. */
  readonly last_event_id: string;
  readonly last_progress_at: number;
  /** The lifecycle order in flight (suspend, resume, modify, terminate), or null. */
  readonly pending: PendingOrder | null;
}

export interface Decision {
  readonly state: Tracked;
  readonly outgoing: readonly Outgoing[];
}

const failedSteps: Partial<Record<EventName, Step>> = {
  NetworkProfileCreationFailed: "profile",
  IpAllocationFailed: "ipam",
  RadiusAccountCreationFailed: "radius",
  OnuActivationFailed: "olt",
  BillingServiceCreationFailed: "billing",
};

const skippedSteps: Partial<Record<EventName, Step>> = {
  NetworkProfileSkipped: "profile",
  OnuActivationSkipped: "olt",
};

/** The machine-readable code a failure event carries, if any. */
const codeOf = (m: Message): string | null => ("code" in m.data && typeof m.data.code === "string" ? m.data.code : null);

/** The step a failure event reports, with its reason and code; null for any other event. */
export function failureOf(m: Message): { step: Step; reason: string; code: string | null } | null {
  const step = failedSteps[m.type];
  if (!step || !("reason" in m.data) || typeof m.data.reason !== "string") return null;
  return { step, reason: m.data.reason, code: codeOf(m) };
}

/** The first step that has neither succeeded nor been skipped: the one we wait for. */
export function nextStep(progress: Progress, skipped: readonly Step[]): Step {
  return provisionSteps.find((s) => !progress.succeeded.includes(s) && !skipped.includes(s)) ?? "billing";
}

const lifecycle = (message: Message, subscriberId: string): Outgoing => ({ message, topic: topics.lifecycle, key: subscriberId });
const toCrm = (message: Message, orderId: string): Outgoing => ({ message, topic: topics.orderStatus, key: orderId });

/** Our own events go into the view at once; their echo from Kafka folds in as a no-op. */
function fold(state: Tracked, events: readonly Outgoing[]): Tracked {
  return { ...state, view: events.reduce((v, o) => evolveView(v, o.message) ?? v, state.view) };
}

function provisioned(state: Tracked, cause: Pick<Message, "meta">, ctx: EventContext): Decision {
  const { order_id, subscriber_id } = state.view;
  const out = [
    lifecycle(follow(ctx, cause, "SubscriberProvisioned", { order_id }), subscriber_id),
    toCrm(follow(ctx, cause, "OrderCompleted", { order_id, order_type: "provision", subscriber_id }), order_id),
  ];
  return { state: { ...fold(state, out), status: "active" }, outgoing: out };
}

function failed(state: Tracked, cause: Pick<Message, "meta">, step: Step, reason: string, ctx: EventContext, code: string | null = null): Decision {
  const { order_id, subscriber_id } = state.view;
  const out = [
    lifecycle(follow(ctx, cause, "SubscriberProvisioningFailed", { order_id, step, reason, code }), subscriber_id),
    toCrm(follow(ctx, cause, "OrderFailed", { order_id, order_type: "provision", subscriber_id, step, reason, code }), order_id),
  ];
  return settle({ ...fold(state, out), status: "failed" }, cause, ctx, out);
}

/** After a failure: once every success is undone, say so (once; with no success, at once). */
function settle(state: Tracked, cause: Pick<Message, "meta">, ctx: EventContext, out: readonly Outgoing[]): Decision {
  if (state.status !== "failed" || !rolledBack(state.view.progress)) return { state, outgoing: out };
  const { order_id, subscriber_id, progress } = state.view;
  const done = lifecycle(follow(ctx, cause, "SubscriberProvisioningRolledBack", { order_id, compensated: [...progress.compensated] }), subscriber_id);
  return { state: { ...fold(state, [done]), status: "rolled_back" }, outgoing: [...out, done] };
}

/** One lifecycle event about the subscriber. */
export function decideLifecycle(state: Tracked, event: Message, ctx: EventContext): Decision {
  const skip = skippedSteps[event.type];
  const seen: Tracked = {
    ...state,
    view: evolveView(state.view, event) ?? state.view,
    skipped: skip && !state.skipped.includes(skip) ? [...state.skipped, skip] : state.skipped,
    last_event_id: event.meta.event_id,
    last_progress_at: ctx.now(),
  };
  if (state.status === "provisioning") {
    if (event.type === "BillingServiceCreated") return provisioned(seen, event, ctx);
    const failure = failureOf(event);
    // A step already skipped answered late (the profile service back after its deadline): the chain went on without it.
    if (failure && !state.skipped.includes(failure.step)) return failed(seen, event, failure.step, failure.reason, ctx, failure.code);
  }
  if (seen.pending) return progressOrder(seen, seen.pending, event, ctx);
  return settle(seen, event, ctx, []);
}

/** The answer a lifecycle event gives to the pending order's type, if any. */
const answers: Record<PendingOrder["order_type"], Partial<Record<EventName, Answer>>> = {
  suspend: { RadiusAccountSuspended: "radius", BillingServiceSuspended: "billing" },
  resume: { RadiusAccountResumed: "radius", BillingServiceResumed: "billing" },
  modify: { RadiusPlanChanged: "radius", BillingPlanChanged: "billing", OnuBandwidthChanged: "olt" },
  terminate: {},
};

const planChangeFailures: Partial<Record<EventName, Answer>> = {
  RadiusPlanChangeFailed: "radius",
  BillingPlanChangeFailed: "billing",
  OnuBandwidthChangeFailed: "olt",
};

/** A step putting back an earlier, failed plan change: it answers no order. */
const isPutBack = (m: Message): boolean => "reverts_order_id" in m.data && typeof m.data.reverts_order_id === "string";

/** The answers an order needs before it is complete. The ONU follows a plan change only when there is one. */
export const answersNeeded = (p: PendingOrder, view: SubscriberView): Answer[] =>
  p.order_type === "modify" ? (view.onu_id !== null ? ["radius", "billing", "olt"] : ["radius", "billing"]) : p.order_type === "terminate" ? [] : ["radius", "billing"];

const reasonOf = (m: Message, otherwise: string): string => ("reason" in m.data && typeof m.data.reason === "string" ? m.data.reason : otherwise);

/** A lifecycle order in flight: collect the answers, complete (or fail) once. */
function progressOrder(state: Tracked, pending: PendingOrder, event: Message, ctx: EventContext): Decision {
  const { subscriber_id } = state.view;
  const { order_id, order_type } = pending;
  const done = (s: Tracked, extra: Message, status: Status): Decision => {
    const out = [lifecycle(extra, subscriber_id), toCrm(follow(ctx, event, "OrderCompleted", { order_id, order_type, subscriber_id }), order_id)];
    return { state: { ...fold(s, out), status, pending: null }, outgoing: out };
  };
  if (order_type === "terminate") {
    // The teardown goes in the seed's order without us (shared/teardown.ts); we archive at its end.
    if (tornDown(state.view)) {
      const archived = follow(ctx, event, "SubscriberArchived", { order_id });
      if (!pending.stalled) return done(state, archived, "archived");
      // The CRM already heard OrderFailed for this order: the archive is news for the lifecycle only.
      const out = [lifecycle(archived, subscriber_id)];
      return { state: { ...fold(state, out), status: "archived", pending: null }, outgoing: out };
    }
    if (!pending.stalled && event.type === "OnuDeactivationFailed" && event.data.purpose === "terminated") {
      return teardownFailed(state, pending, event, "olt", event.data.code, event.data.reason, ctx);
    }
    return { state, outgoing: [] };
  }
  if (isPutBack(event)) return { state, outgoing: [] };
  const failedStep = order_type === "modify" ? planChangeFailures[event.type] : undefined;
  // The first answer of a step counts: a failure after that step's success changes nothing.
  if (failedStep && pending.answers.includes(failedStep)) return { state, outgoing: [] };
  if (failedStep) return planChangeFailed(state, pending, event, failedStep, reasonOf(event, "plan change failed"), codeOf(event) ?? "failed", ctx);
  const answer = answers[order_type][event.type];
  if (!answer) return { state, outgoing: [] };
  const got = pending.answers.includes(answer) ? pending.answers : [...pending.answers, answer];
  const next: Tracked = { ...state, pending: { ...pending, answers: got } };
  if (!answersNeeded(pending, state.view).every((a) => got.includes(a))) return { state: next, outgoing: [] };
  switch (order_type) {
    case "suspend":
      return done(next, follow(ctx, event, "SubscriberSuspended", { order_id }), "suspended");
    case "resume":
      return done(next, follow(ctx, event, "SubscriberResumed", { order_id }), "active");
    case "modify":
      return done(next, follow(ctx, event, "SubscriberPlanChanged", { order_id, service_plan_id: pending.service_plan_id ?? state.view.service_plan_id }), "active");
  }
}

/**
 * A plan change failed at `step` (or did not answer): the lifecycle hears SubscriberPlanChangeFailed
 * with the plan kept, so every step that moved puts it back, and the CRM hears OrderFailed.
 */
function planChangeFailed(state: Tracked, pending: PendingOrder, cause: Pick<Message, "meta">, step: Answer, reason: string, code: string, ctx: EventContext): Decision {
  const { subscriber_id } = state.view;
  const { order_id, order_type } = pending;
  // An order accepted before the plan kept was recorded: the view's plan is all there is.
  const kept = pending.previous ?? { service_plan_id: state.view.service_plan_id, bandwidth_mbps: state.view.bandwidth_mbps };
  const effective_date = pending.effective_date ?? new Date(ctx.now()).toISOString().slice(0, 10);
  const out = [
    lifecycle(follow(ctx, cause, "SubscriberPlanChangeFailed", { order_id, step, code, reason, ...kept, effective_date }), subscriber_id),
    toCrm(follow(ctx, cause, "OrderFailed", { order_id, order_type, subscriber_id, step, reason, code }), order_id),
  ];
  return { state: { ...fold(state, out), pending: null }, outgoing: out };
}

/**
 * A termination stopped at `step`: the lifecycle hears SubscriberTeardownFailed with the parts
 * left (the subscriber shows degraded), the CRM hears OrderFailed, and the order stays, stalled,
 * until a new terminate order retries it.
 */
function teardownFailed(state: Tracked, pending: PendingOrder, cause: Pick<Message, "meta">, step: string, code: string, reason: string, ctx: EventContext): Decision {
  const { subscriber_id } = state.view;
  const { order_id, order_type } = pending;
  const out = [
    lifecycle(follow(ctx, cause, "SubscriberTeardownFailed", { order_id, step, code, reason, remaining: remainingParts(state.view) }), subscriber_id),
    toCrm(follow(ctx, cause, "OrderFailed", { order_id, order_type, subscriber_id, step, reason, code }), order_id),
  ];
  return { state: { ...fold(state, out), pending: { ...pending, stalled: { step, code, reason } } }, outgoing: out };
}

export interface DeadlineInput {
  readonly now: number;
  readonly deadlineMs: number;
}

/** The cause of a deadline failure: the last event seen about the subscriber. */
export function lastSeen(state: Tracked): Pick<Message, "meta"> {
  const meta: Meta = {
    event_id: state.last_event_id,
    occurred_at: state.last_progress_at,
    tenant_id: state.view.tenant_id,
    subscriber_id: state.view.subscriber_id,
    correlation_id: state.correlation_id,
    causation_id: null,
    producer: "subscriber",
  };
  return { meta };
}

/** No progress for the deadline: fail at the step we wait for. Otherwise nothing. */
export function decideDeadline(state: Tracked, { now, deadlineMs }: DeadlineInput, ctx: EventContext): Decision {
  if (state.status !== "provisioning" || now - state.last_progress_at < deadlineMs) return { state, outgoing: [] };
  const step = nextStep(state.view.progress, state.skipped);
  return failed(state, lastSeen(state), step, `no progress within ${deadlineMs / 1000} s`, ctx, "deadline_exceeded");
}

/**
 * The profile service has not answered within the (short) profile deadline: provisioning goes on
 * with the order's network settings, as the seed promises (profile failures never block
 * provisioning). The subscriber service says so in the profile's stead, NetworkProfileSkipped
 * {code timeout}, and ipam allocates from the order. A profile created later is recorded but does
 * not change the settings the chain went on with (shared/subscriber-view.ts: the first answer wins).
 */
export function decideProfileDeadline(state: Tracked, { now, deadlineMs }: DeadlineInput, ctx: EventContext): Decision {
  const awaited = state.status === "provisioning" && !state.skipped.includes("profile") && nextStep(state.view.progress, state.skipped) === "profile";
  if (!awaited || now - state.last_progress_at < deadlineMs) return { state, outgoing: [] };
  const { subscriber_id, order_network } = state.view;
  const reason = `timeout: the profile service did not answer within ${deadlineMs / 1000} s; provisioning goes on with the order's network settings`;
  const out = [lifecycle(follow(ctx, lastSeen(state), "NetworkProfileSkipped", { reason, network: order_network, code: "timeout" }), subscriber_id)];
  return { state: { ...fold(state, out), skipped: [...state.skipped, "profile"], last_progress_at: now }, outgoing: out };
}

/**
 * A lifecycle order with no answer for the deadline ends OrderFailed {step: the first step that
 * has not answered, code deadline_exceeded}. A plan change puts back what moved
 * (SubscriberPlanChangeFailed); a termination stalls, degraded, until it is retried
 * (SubscriberTeardownFailed); a suspend or resume leaves the subscriber taking orders again. A late
 * answer then changes nothing (no order is in flight), or is put back.
 */
export function decideOrderDeadline(state: Tracked, { now, deadlineMs }: DeadlineInput, ctx: EventContext): Decision {
  const pending = state.pending;
  if (!pending || pending.stalled || now - state.last_progress_at < deadlineMs) return { state, outgoing: [] };
  const seen = lastSeen(state);
  const cause = { meta: { ...seen.meta, correlation_id: pending.order_id } }; // the order's own thread, not the provisioning's
  if (pending.order_type === "terminate") {
    const left = remainingParts(state.view);
    const step = left[0] ?? "radius";
    return teardownFailed(state, pending, cause, step, "deadline_exceeded", `no teardown progress within ${deadlineMs / 1000} s; ${left.join(", ") || "nothing"} left`, ctx);
  }
  const missing = answersNeeded(pending, state.view).filter((a) => !pending.answers.includes(a));
  const step = missing[0] ?? "radius";
  const reason = `no answer from ${missing.join(" and ") || step} within ${deadlineMs / 1000} s`;
  if (pending.order_type === "modify") return planChangeFailed(state, pending, cause, step, reason, "deadline_exceeded", ctx);
  const { subscriber_id } = state.view;
  const failedOrder = follow(ctx, cause, "OrderFailed", { order_id: pending.order_id, order_type: pending.order_type, subscriber_id, step, reason, code: "deadline_exceeded" });
  return { state: { ...state, pending: null }, outgoing: [toCrm(failedOrder, pending.order_id)] };
}

/** A new subscriber, from the SubscriberCreated we emit for it: provisioning, clock started. */
export function startTracking(created: Message<"SubscriberCreated">, now: number): Tracked {
  const view = evolveView(null, created);
  if (!view) throw new Error("SubscriberCreated always starts a view");
  return {
    status: "provisioning",
    view,
    skipped: [],
    correlation_id: created.meta.correlation_id,
    last_event_id: created.meta.event_id,
    last_progress_at: now,
    pending: null,
  };
}
