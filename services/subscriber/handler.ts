// The events the subscriber service reacts to, in one place, and their thin handlers: load the
// state, call the pure decision, store it, emit through the outbox (the batch's unit of work).
import { eventTopics, type EventName, type Message } from "../../schemas/generated/events.js";
import type { BatchReactor, Incoming } from "../../shared/consumer.js";
import type { Outgoing, Tx } from "../../shared/outbox.js";
import { byTopic, keyedReactor, keyString, perEvent, type Prefetch, type UnitScope } from "../../shared/reactor.js";
import type { Logger } from "../../shared/logger.js";
import { pendingCompensations } from "../../shared/progress.js";
import { topics } from "../../shared/topics.js";
import { PoisonMessageError } from "../../shared/errors.js";
import { decideProvisionOrder, formatSubscriberNumber, subscriberCreated, unanswerable } from "./decide.js";
import { decideLifecycle, startTracking, type Tracked } from "./decide-outcome.js";
import { decideLifecycleOrder, lifecycleUnanswerable, orderTypeOf, type LifecycleOrder, type ScheduledChange } from "./decide-order.js";
import { profileLiveness } from "./liveness.js";
import type { SubscriberDeps } from "./service.js";
import { findPlan, tenantHasPlans } from "./store/plans.js";
import {
  findByOrders,
  insertScheduled,
  insertSubscribers,
  isSubscriberId,
  lifecycleOrderAccepted,
  lifecycleOrdersAccepted,
  lockSubscriber,
  NumberCounters,
  orderKey,
  recordLifecycleOrders,
  toTracked,
  trackedStore,
  type NewRow,
} from "./store/subscribers.js";

/** Every lifecycle event: the view folds them all (order data, network, IPs, progress). */
export const lifecycleEvents = (Object.keys(eventTopics) as EventName[]).filter((t) => eventTopics[t] === topics.lifecycle);

const orderTypes = new Set<EventName>(["ProvisionOrderPlaced", "SuspendOrderPlaced", "ResumeOrderPlaced", "ModifyOrderPlaced", "TerminateOrderPlaced"]);
const lifecycleTypes = new Set<EventName>(lifecycleEvents);

/** Orders from the CRM, one at a time in the batch's unit of work; the lifecycle of our subscribers, in bulk. */
export function reactor(deps: SubscriberDeps): BatchReactor {
  const onProvision = provisionOrder(deps);
  const onLifecycleOrder = lifecycleOrder(deps);
  const orders = perEvent(
    deps,
    (type, topic) => topic === topics.crmOrders && orderTypes.has(type),
    (tx, item, unit) => (item.message.type === "ProvisionOrderPlaced" ? onProvision(tx, item, unit) : onLifecycleOrder(tx, item, unit)),
    { prefetch: prefetchOrders },
  );
  return byTopic({ [topics.crmOrders]: orders, [topics.lifecycle]: lifecycle(deps) });
}

/**
 * What the provision orders of one unit of work share: the orders already accepted (read for
 * the whole unit at once), the subscriber-number counters, and the new subscribers' rows,
 * written in one statement before the unit commits (or before a lifecycle order of the same
 * unit looks for its subscriber).
 */
interface Intake {
  /** orderKey → subscriber id, for the orders looked up (`looked`) that the tenant had accepted. */
  readonly known: Map<string, string>;
  readonly looked: Set<string>;
  readonly counters: NumberCounters;
  readonly rows: NewRow[];
  flush(): Promise<void>;
  // Lifecycle orders: the accepted ones among those looked up, the subscribers' rows (locked,
  // null: none of ours) and what the unit changed and accepted, written before it commits.
  readonly lifecycleAccepted: Set<string>;
  readonly lifecycleLooked: Set<string>;
  readonly tracked: Map<string, Tracked | null>;
  readonly changed: Map<string, { key: { tenant_id: string; subscriber_id: string }; state: Tracked }>;
  readonly accepted: Array<{ tenantId: string; orderId: string; subscriberId: string; orderType: string }>;
  /** Plan changes accepted for a later date, held until then. */
  readonly scheduled: ScheduledChange[];
}

function intakeOf(tx: Tx, unit: UnitScope): Intake {
  return unit.get("intake", () => {
    const intake: Intake = {
      known: new Map(),
      looked: new Set(),
      counters: new NumberCounters(tx),
      rows: [],
      async flush() {
        await intake.counters.flush();
        await insertSubscribers(tx, intake.rows.splice(0));
      },
      lifecycleAccepted: new Set(),
      lifecycleLooked: new Set(),
      tracked: new Map(),
      changed: new Map(),
      accepted: [],
      scheduled: [],
    };
    unit.beforeCommit(async () => {
      await intake.flush();
      await recordLifecycleOrders(tx, intake.accepted.splice(0));
      await insertScheduled(tx, intake.scheduled.splice(0));
      if (intake.changed.size > 0) await trackedStore.save(tx, [...intake.changed.values()]);
      intake.changed.clear();
    });
    return intake;
  });
}

async function prefetchOrders(batch: Prefetch): Promise<void> {
  await prefetchProvisionOrders(batch);
  await prefetchLifecycleOrders(batch);
}

/** The lifecycle orders' acceptances and their subscribers' rows (locked), one statement each for the unit of work. */
async function prefetchLifecycleOrders({ tx, unit, messages }: Prefetch): Promise<void> {
  const orders = messages.filter((m): m is LifecycleOrder => orderTypes.has(m.type) && m.type !== "ProvisionOrderPlaced" && m.meta.tenant_id.trim() !== "");
  if (orders.length === 0) return;
  const intake = intakeOf(tx, unit);
  const keys = orders.map((o) => ({ tenantId: o.meta.tenant_id, orderId: o.data.order_id.trim() }));
  for (const k of await lifecycleOrdersAccepted(tx, keys)) intake.lifecycleAccepted.add(k);
  for (const k of keys) intake.lifecycleLooked.add(orderKey(k.tenantId, k.orderId));
  const subscribersOf = orders
    .map((o) => ({ tenant_id: o.meta.tenant_id, subscriber_id: o.data.subscriber_id.trim() }))
    .filter((k) => isSubscriberId(k.subscriber_id));
  const rows = await trackedStore.load(tx, subscribersOf);
  for (const k of subscribersOf) intake.tracked.set(keyString(k), rows.get(keyString(k)) ?? null);
}

async function prefetchProvisionOrders({ tx, unit, messages }: Prefetch): Promise<void> {
  const orders = messages
    .filter((m): m is Message<"ProvisionOrderPlaced"> => m.type === "ProvisionOrderPlaced" && m.meta.tenant_id.trim() !== "")
    .map((m) => ({ tenantId: m.meta.tenant_id, orderId: m.data.order_id.trim() }));
  if (orders.length === 0) return;
  const intake = intakeOf(tx, unit);
  for (const [k, id] of await findByOrders(tx, orders)) intake.known.set(k, id);
  for (const o of orders) intake.looked.add(orderKey(o.tenantId, o.orderId));
}

function provisionOrder({ ctx }: SubscriberDeps): (tx: Tx, item: Incoming, unit: UnitScope) => Promise<readonly Outgoing[]> {
  return async (tx, { message: m, log }, unit) => {
    const message = m as Message<"ProvisionOrderPlaced">;
    const cannot = unanswerable(message);
    if (cannot) throw new PoisonMessageError("invalid", cannot);
    const tenant = message.meta.tenant_id;
    const orderId = message.data.order_id.trim();
    const planId = message.data.service_plan_id.trim();
    {
      const intake = intakeOf(tx, unit);
      const key = orderKey(tenant, orderId);
      const known = tenant.trim() === "" ? undefined : intake.looked.has(key) ? intake.known.get(key) : (await findByOrders(tx, [{ tenantId: tenant, orderId }])).get(key);
      // A tenant's plans are read once per unit of work.
      const plan = tenant.trim() === "" || planId === "" ? null : await unit.get(`plan\u0000${tenant}\u0000${planId}`, () => findPlan(tx, tenant, planId));
      // Asked only when the plan was not found: is it the plan or the whole tenant that is unknown?
      const tenantKnown = plan !== null || (tenant.trim() !== "" && (await unit.get(`tenant\u0000${tenant}`, () => tenantHasPlans(tx, tenant))));
      const decision = decideProvisionOrder({ order: message, plan, alreadyAccepted: known !== undefined, tenantKnown }, ctx);
      switch (decision.kind) {
        case "duplicate":
          log.info({ order_id: orderId, existing_subscriber_id: known }, "duplicate order ignored");
          return [];
        case "rejected":
          log.warn({ order_id: orderId, reasons: decision.reasons.map((r) => `${r.field ?? "-"}: ${r.code}`) }, "order rejected");
          return decision.outgoing;
        case "accepted": {
          const ids = { subscriber_id: ctx.newId(), subscriber_number: formatSubscriberNumber(await intake.counters.next(tenant)) };
          const outgoing = subscriberCreated(message, decision.order, ids, ctx);
          const created = outgoing.find((o): o is { message: Message<"SubscriberCreated"> } => o.message.type === "SubscriberCreated");
          if (!created) throw new Error("an accepted order emits SubscriberCreated");
          const tracked = startTracking(created.message, ctx.now());
          intake.rows.push({ tenantId: tenant, subscriberNumber: ids.subscriber_number, orderId, crmReference: decision.order.crm_reference, tracked });
          intake.known.set(key, ids.subscriber_id);
          intake.looked.add(key);
          intake.tracked.delete(keyString({ tenant_id: tenant, subscriber_id: ids.subscriber_id })); // read from its row (written first) if an order of this unit names it
          const n = decision.order.network;
          log.info(
            {
              ...ids,
              order_id: orderId,
              plan: decision.order.service_plan_id,
              connection_type: decision.order.connection_type,
              service_vlan: n.service_vlan,
              inner_vlan: n.inner_vlan,
              ipv6_assignment_mode: n.ipv6_assignment_mode,
            },
            "subscriber created",
          );
          return outgoing;
        }
      }
    }
  };
}

/**
 * Suspend, resume, modify, terminate: the subscriber row (of the order's tenant only) is locked,
 * the pure decision rejects or accepts. A rejection writes nothing but the inbox row and the
 * OrderRejected in the outbox; an acceptance records the order id (the same id again is one
 * order) and the order in flight on the subscriber row.
 */
function lifecycleOrder({ ctx }: SubscriberDeps): (tx: Tx, item: Incoming, unit: UnitScope) => Promise<readonly Outgoing[]> {
  return async (tx, { message, log }, unit) => {
    const order = message as LifecycleOrder;
    const cannot = lifecycleUnanswerable(order);
    if (cannot) throw new PoisonMessageError("invalid", cannot);
    await intakeOf(tx, unit).flush(); // the unit's new subscribers first: this order may be for one of them
    const tenant = order.meta.tenant_id;
    const orderId = order.data.order_id.trim();
    const subscriberId = order.data.subscriber_id.trim();
    const orderType = orderTypeOf(order);
    {
      const intake = intakeOf(tx, unit);
      const key = orderKey(tenant, orderId);
      const known = tenant.trim() !== "" && (intake.lifecycleLooked.has(key) ? intake.lifecycleAccepted.has(key) : await lifecycleOrderAccepted(tx, tenant, orderId));
      const sk = keyString({ tenant_id: tenant, subscriber_id: subscriberId });
      let state: Tracked | null = null;
      if (tenant.trim() !== "" && isSubscriberId(subscriberId)) {
        const cached = intake.tracked.get(sk);
        if (cached !== undefined) state = cached;
        else {
          const row = await lockSubscriber(tx, tenant, subscriberId);
          state = row ? toTracked(row) : null;
          intake.tracked.set(sk, state);
        }
      }
      const planId = order.type === "ModifyOrderPlaced" ? (order.data.service_plan_id ?? "").trim() : "";
      const plan = state && planId !== "" ? await unit.get(`plan\u0000${tenant}\u0000${planId}`, () => findPlan(tx, tenant, planId)) : null;
      const today = new Date(ctx.now()).toISOString().slice(0, 10);
      const decision = decideLifecycleOrder({ order, state, plan, alreadyAccepted: known, today }, ctx);
      switch (decision.kind) {
        case "duplicate":
          log.info({ order_id: orderId, order_type: orderType }, "duplicate order ignored");
          return [];
        case "rejected":
          log.warn({ order_id: orderId, order_type: orderType, reasons: decision.reasons.map((r) => `${r.field ?? "-"}: ${r.code}`) }, "order rejected");
          return decision.outgoing;
        case "scheduled":
          // Recorded as accepted (the same order id again is one order) and held until its date; nothing else changes today.
          intake.accepted.push({ tenantId: tenant, orderId, subscriberId, orderType });
          intake.lifecycleAccepted.add(key);
          intake.lifecycleLooked.add(key);
          intake.scheduled.push(decision.schedule);
          log.info({ order_id: orderId, order_type: orderType, effective_date: decision.schedule.effective_date }, "plan change accepted for a later date: scheduled");
          return decision.outgoing;
        case "accepted":
          // Recorded, and the subscriber's row written, before the unit commits (in one statement each for all its orders).
          intake.accepted.push({ tenantId: tenant, orderId, subscriberId, orderType });
          intake.lifecycleAccepted.add(key);
          intake.lifecycleLooked.add(key);
          intake.tracked.set(sk, decision.state);
          intake.changed.set(sk, { key: { tenant_id: tenant, subscriber_id: subscriberId }, state: decision.state });
          log.info({ order_id: orderId, order_type: orderType, subscriber_number: decision.state.view.subscriber_number }, "order accepted");
          return decision.outgoing;
      }
    }
  };
}

/** The lifecycle of our subscribers: their rows are locked and loaded for the whole batch, folded, saved in one statement. */
function lifecycle(deps: SubscriberDeps): BatchReactor {
  const { ctx } = deps;
  const liveness = profileLiveness(deps.sql, ctx.now());
  return keyedReactor<Tracked>(deps, {
    accepts: (type, topic) => topic === topics.lifecycle && lifecycleTypes.has(type),
    store: trackedStore,
    async react({ message, state: before, log }) {
      liveness.saw(message, ctx.now());
      // The topic carries every tenant's and every test's subscribers: only ours have a row.
      if (!before) {
        log.debug("not a subscriber of ours, skipped");
        return {};
      }
      const decision = decideLifecycle(before, message, ctx);
      logTransition(log, before, decision.state);
      return { state: decision.state, out: decision.outgoing };
    },
  });
}

/** The status changes as log lines; the logger already carries subscriber, event and order ids. */
export function logTransition(log: Logger, before: Tracked, after: Tracked): void {
  const { order_id, progress } = after.view;
  if (before.pending && !after.pending && before.pending.order_type === "modify") {
    log.info({ order_id: before.pending.order_id, service_plan_id: after.view.service_plan_id, answers: before.pending.answers }, "plan change order finished");
  }
  if (before.status === after.status) {
    if (after.status === "failed") log.debug({ pending: pendingCompensations(progress) }, "waiting for compensations");
    return;
  }
  if (after.status === "active" && before.status === "provisioning") log.info({ order_id }, "subscriber provisioned");
  if (after.status === "failed" || (before.status === "provisioning" && after.status === "rolled_back")) {
    log.warn({ order_id, step: progress.failure?.step, reason: progress.failure?.reason, pending: pendingCompensations(progress) }, "provisioning failed");
  }
  if (after.status === "rolled_back") log.info({ order_id, compensated: progress.compensated }, "provisioning rolled back");
  if (after.status === "suspended") log.info({ order_id: before.pending?.order_id }, "subscriber suspended");
  if (after.status === "active" && before.status === "suspended") log.info({ order_id: before.pending?.order_id }, "subscriber resumed");
  if (after.status === "archived") log.info({ order_id: before.pending?.order_id }, "subscriber archived");
}
