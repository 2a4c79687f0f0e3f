// Lifecycle order rules (suspend, resume, modify, terminate): given a subscriber's story, when an
// order or a service's answer comes, then these events (or a rejection that changes nothing).
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { decideLifecycle, decideOrderDeadline, startTracking, type Tracked } from "./decide-outcome.js";
import { decideLifecycleOrder, lifecycleUnanswerable, releaseScheduled, type LifecycleOrder, type LifecycleOrderInput } from "./decide-order.js";
import type { Plan } from "./decide.js";

let seq = 0;
const ctx: EventContext = { producer: "subscriber", now: () => 1_700_000_000_000, newId: () => `out-${++seq}` };
const SUB = "11111111-1111-4111-8111-111111111111";

function event<K extends EventName>(type: K, data: EventData<K>, correlation = "order-1"): Message<K> {
  return {
    type,
    meta: { event_id: `${type}-${++seq}`, occurred_at: 1, tenant_id: "tenant-a", subscriber_id: SUB, correlation_id: correlation, causation_id: null, producer: "test" },
    data,
  } as Message<K>;
}

const network = {
  service_vlan: 100, inner_vlan: 200, qinq_enabled: true, vlan_pool: null, circuit_id: "c-1", remote_id: null, option82_policy: "log",
  static_ipv4: null, static_ipv6: null, delegated_ipv6_prefix: null, ipv6_pd_size: null, ipv6_assignment_mode: "dual_stack",
  ipv4_pool: null, ipv6_pool: null, ipv6_pd_pool: null,
};
const ips = { ipv4: "100.64.0.9", ipv6: null, ipv6_prefix: null, source: "dynamic" };

const created = (connection_type = "ftth") =>
  event("SubscriberCreated", {
    order_id: "order-1", subscriber_number: "SUB-000001", crm_reference: "CRM-1",
    customer: { first_name: "J", last_name: "D", email: "j@d.io", phone: null }, service_address: "1 Main St",
    connection_type, service_plan_id: "res-100", bandwidth_mbps: 100, onu_serial: "ALCL1", network, metadata: {},
  });

const ev = {
  profile: () => event("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: network, metadata: {} } }),
  ipam: () => event("IpAllocated", { ips }),
  radius: () => event("RadiusAccountCreated", { username: "u1", plan_group: "res-100" } as EventData<"RadiusAccountCreated">),
  olt: () => event("OnuActivated", { onu_id: "onu-1", onu_serial: "ALCL1", olt_id: "olt-1", pon_port: "1/1/1", s_vlan: 100, c_vlan: 200, bandwidth_mbps: 100 }),
  oltSkipped: () => event("OnuActivationSkipped", { connection_type: "dsl", reason: "not FTTH" }),
  billing: () => event("BillingServiceCreated", { service_id: "svc-1", service_plan_id: "res-100", status: "active" }),
};

function story(events: Message[], connection = "ftth"): Tracked {
  let state = startTracking(created(connection), 0);
  for (const e of events) state = decideLifecycle(state, e, ctx).state;
  return state;
}
const active = (): Tracked => story([ev.profile(), ev.ipam(), ev.radius(), ev.olt(), ev.billing()]);
const activeWithoutOnu = (): Tracked => story([ev.profile(), ev.ipam(), ev.radius(), ev.oltSkipped(), ev.billing()], "dsl");

const meta = (type: string, order: string) => ({ event_id: `${type}-${++seq}`, occurred_at: 1, tenant_id: "tenant-a", subscriber_id: null, correlation_id: order, causation_id: null, producer: "crm" });
const orders = {
  suspend: (order_id = "o-s"): LifecycleOrder => ({ type: "SuspendOrderPlaced", meta: meta("s", order_id), data: { order_id, subscriber_id: SUB, reason: "non-payment" } }),
  resume: (order_id = "o-r"): LifecycleOrder => ({ type: "ResumeOrderPlaced", meta: meta("r", order_id), data: { order_id, subscriber_id: SUB } }),
  modify: (d: Partial<EventData<"ModifyOrderPlaced">> = {}, order_id = "o-m"): LifecycleOrder => ({
    type: "ModifyOrderPlaced", meta: meta("m", order_id),
    data: { order_id, subscriber_id: SUB, service_plan_id: "res-500", bandwidth_mbps: null, effective_date: "2026-12-01", ...d },
  }),
  terminate: (order_id = "o-t"): LifecycleOrder => ({ type: "TerminateOrderPlaced", meta: meta("t", order_id), data: { order_id, subscriber_id: SUB, reason: null } }),
};
const res500: Plan = { plan_id: "res-500", name: "Residential 500", bandwidth_mbps: 500 };

function decide(order: LifecycleOrder, state: Tracked | null, extra: Partial<LifecycleOrderInput> = {}) {
  return decideLifecycleOrder({ order, state, plan: res500, alreadyAccepted: false, today: "2026-12-01", ...extra }, ctx);
}

/** Accepts the order and folds our own events in; returns the state. */
function accepted(order: LifecycleOrder, state: Tracked, plan: Plan | null = res500): Tracked {
  const d = decide(order, state, { plan });
  if (d.kind !== "accepted") throw new Error(`expected accepted, got ${d.kind}`);
  return d.state;
}

function answer(state: Tracked, ...events: Message[]): { state: Tracked; emitted: Message[] } {
  const emitted: Message[] = [];
  for (const e of events) {
    const d = decideLifecycle(state, e, ctx);
    state = d.state;
    emitted.push(...d.outgoing.map((o) => o.message));
  }
  return { state, emitted };
}

function expectRejected(d: ReturnType<typeof decide>, code: string, order_type: string) {
  expect(d.kind).toBe("rejected");
  if (d.kind !== "rejected") return;
  expect(d.reasons.map((r) => r.code)).toEqual([code]);
  const rejected = d.outgoing[0]?.message as Message<"OrderRejected">;
  expect(d.outgoing.map((o) => [o.message.type, o.topic, o.key])).toEqual([["OrderRejected", "crm.order-status.v1", rejected.data.order_id]]);
  expect(rejected.data.order_type).toBe(order_type);
}

describe("rejections (nothing but OrderRejected)", () => {
  it("given a suspension reason of 501 characters, when it comes for an active subscriber, then too_long", () => {
    const o = orders.suspend();
    const long = { ...o, data: { ...o.data, reason: "r".repeat(501) } } as LifecycleOrder;
    expectRejected(decide(long, active()), "too_long", "suspend");
  });

  it("given a 100 000-character subscriber id, then unknown_subscriber quotes at most 60 characters of it", () => {
    const o = orders.resume();
    const d = decide({ ...o, data: { ...o.data, subscriber_id: "s".repeat(100_000) } } as LifecycleOrder, null);
    expectRejected(d, "unknown_subscriber", "resume");
    if (d.kind === "rejected") expect(d.reasons[0]?.message.length).toBeLessThan(120);
  });

  it("given an order id longer than 100 characters, then it can not be answered on that key (the handler dead-letters it)", () => {
    expect(lifecycleUnanswerable(orders.terminate("t".repeat(101)))).toMatch(/order_id is 101 characters long/);
    expect(lifecycleUnanswerable(orders.terminate("t".repeat(100)))).toBeNull();
  });

  it("given no subscriber with that id in the order's tenant (unknown or another tenant's), when any order comes, then unknown_subscriber", () => {
    for (const [o, t] of [[orders.suspend(), "suspend"], [orders.resume(), "resume"], [orders.modify(), "modify"], [orders.terminate(), "terminate"]] as const) {
      expectRejected(decide(o, null), "unknown_subscriber", t);
    }
  });

  it("given an archived subscriber, when any order comes, then subscriber_archived", () => {
    const archived: Tracked = { ...active(), status: "archived", view: { ...active().view, phase: "archived" } };
    for (const [o, t] of [[orders.suspend(), "suspend"], [orders.resume(), "resume"], [orders.modify(), "modify"], [orders.terminate(), "terminate"]] as const) {
      expectRejected(decide(o, archived), "subscriber_archived", t);
    }
  });

  it("given a subscriber not active (provisioning, or suspended), when a suspend comes, then not_active", () => {
    expectRejected(decide(orders.suspend(), story([ev.profile()])), "not_active", "suspend");
    const suspended = answer(accepted(orders.suspend(), active()), event("RadiusAccountSuspended", { username: "u1", mode: "reject" }), event("BillingServiceSuspended", { service_id: "svc-1" } as EventData<"BillingServiceSuspended">)).state;
    expectRejected(decide(orders.suspend("o-s2"), suspended), "not_active", "suspend");
  });

  it("given an active subscriber, when a resume comes, then not_suspended", () => {
    expectRejected(decide(orders.resume(), active()), "not_suspended", "resume");
  });

  it("given a subscriber not active, when a modify comes, then not_active", () => {
    expectRejected(decide(orders.modify(), story([ev.profile()])), "not_active", "modify");
  });

  it("given an active subscriber, when a modify names a plan not in the catalogue, then unknown_plan", () => {
    expectRejected(decide(orders.modify({ service_plan_id: "gold" }), active(), { plan: null }), "unknown_plan", "modify");
  });

  it("given an active subscriber, when a modify changes neither plan nor bandwidth, then no_change", () => {
    expectRejected(decide(orders.modify({ service_plan_id: null, bandwidth_mbps: null }), active()), "no_change", "modify");
    expectRejected(decide(orders.modify({ service_plan_id: "res-100", bandwidth_mbps: 100 }), active(), { plan: { plan_id: "res-100", name: "R", bandwidth_mbps: 100 } }), "no_change", "modify");
  });

  it("given provisioning is still in flight, when a terminate comes, then provisioning_in_flight (rejected, not held)", () => {
    expectRejected(decide(orders.terminate(), story([ev.profile(), ev.ipam()])), "provisioning_in_flight", "terminate");
  });

  it("given provisioning failed (and rolled back), when a terminate comes, then not_provisioned", () => {
    const failed = story([event("IpAllocationFailed", { code: "x", reason: "r" })]);
    expect(failed.status).toBe("rolled_back");
    expectRejected(decide(orders.terminate(), failed), "not_provisioned", "terminate");
  });

  it("given another lifecycle order is in flight, when any order comes, then operation_in_progress", () => {
    const suspending = accepted(orders.suspend(), active());
    for (const o of [orders.suspend("o2"), orders.resume("o3"), orders.modify({}, "o4"), orders.terminate("o5")]) {
      const d = decide(o, suspending);
      expect(d.kind === "rejected" && d.reasons.map((r) => r.code)).toEqual(["operation_in_progress"]);
    }
  });

  it("given the order id was already accepted, when it comes again, then nothing (one effect)", () => {
    expect(decide(orders.suspend(), active(), { alreadyAccepted: true })).toEqual({ kind: "duplicate" });
  });
});

describe("suspend", () => {
  it("given an active subscriber, when a suspend comes, then SubscriberSuspendRequested with the profile context + OrderAccepted, order in flight", () => {
    const d = decide(orders.suspend(), active());
    expect(d.kind).toBe("accepted");
    if (d.kind !== "accepted") return;
    expect(d.outgoing.map((o) => [o.message.type, o.topic, o.key])).toEqual([
      ["SubscriberSuspendRequested", "subscriber.lifecycle.v1", SUB],
      ["OrderAccepted", "crm.order-status.v1", "o-s"],
    ]);
    expect(d.outgoing[0]?.message.data).toEqual({ order_id: "o-s", reason: "non-payment", network_profile_id: "np-1", network });
    expect(d.outgoing[0]?.message.meta).toMatchObject({ subscriber_id: SUB, correlation_id: "o-s" });
    expect(d.outgoing[1]?.message.data).toEqual({ order_id: "o-s", order_type: "suspend", subscriber_id: SUB, subscriber_number: "SUB-000001" });
    expect(d.state.pending).toEqual({ order_id: "o-s", order_type: "suspend", answers: [] });
    expect(d.state.status).toBe("active");
  });

  it("given a suspend in flight, when RADIUS and billing both answered, then SubscriberSuspended + OrderCompleted once, status suspended", () => {
    const s = accepted(orders.suspend(), active());
    const one = answer(s, event("RadiusAccountSuspended", { username: "u1", mode: "reject" }, "o-s"));
    expect(one.emitted).toEqual([]);
    const two = answer(one.state, event("BillingServiceSuspended", { service_id: "svc-1" } as EventData<"BillingServiceSuspended">, "o-s"));
    expect(two.emitted.map((m) => m.type)).toEqual(["SubscriberSuspended", "OrderCompleted"]);
    expect(two.emitted[1]?.data).toEqual({ order_id: "o-s", order_type: "suspend", subscriber_id: SUB });
    expect([two.state.status, two.state.pending, two.state.view.phase]).toEqual(["suspended", null, "suspended"]);
    const again = answer(two.state, event("BillingServiceSuspended", { service_id: "svc-1" } as EventData<"BillingServiceSuspended">, "o-s"));
    expect(again.emitted).toEqual([]);
  });
});

describe("resume", () => {
  it("given a suspended subscriber, when a resume comes and RADIUS and billing answer, then SubscriberResumed + OrderCompleted, status active", () => {
    const suspended = answer(accepted(orders.suspend(), active()), event("RadiusAccountSuspended", { username: "u1", mode: "reject" }), event("BillingServiceSuspended", { service_id: "svc-1" } as EventData<"BillingServiceSuspended">)).state;
    const d = decide(orders.resume(), suspended);
    expect(d.kind === "accepted" && d.outgoing.map((o) => o.message.type)).toEqual(["SubscriberResumeRequested", "OrderAccepted"]);
    const r = answer(accepted(orders.resume(), suspended), event("BillingServiceResumed", { service_id: "svc-1" } as EventData<"BillingServiceResumed">), event("RadiusAccountResumed", { username: "u1" } as EventData<"RadiusAccountResumed">));
    expect(r.emitted.map((m) => m.type)).toEqual(["SubscriberResumed", "OrderCompleted"]);
    expect([r.state.status, r.state.pending, r.state.view.phase]).toEqual(["active", null, "active"]);
  });
});

describe("modify", () => {
  const radiusChanged = () => event("RadiusPlanChanged", { reverts_order_id: null, username: "u1", service_plan_id: "res-500", rate_limit: "500M/500M" }, "o-m");
  const billingChanged = () => event("BillingPlanChanged", { reverts_order_id: null, service_id: "svc-1", service_plan_id: "res-500", effective_date: "2026-12-01" }, "o-m");
  const onuChanged = () => event("OnuBandwidthChanged", { reverts_order_id: null, onu_id: "onu-1", bandwidth_mbps: 500 }, "o-m");

  it("given an active subscriber, when a modify names a new plan, then SubscriberPlanChangeRequested with the plan's bandwidth and the date", () => {
    const d = decide(orders.modify(), active());
    expect(d.kind === "accepted" && d.outgoing[0]?.message.data).toEqual({ order_id: "o-m", service_plan_id: "res-500", bandwidth_mbps: 500, effective_date: "2026-12-01" });
    const noDate = decide(orders.modify({ effective_date: null, service_plan_id: null, bandwidth_mbps: 250 }, "o-m2"), active(), { plan: null });
    expect(noDate.kind === "accepted" && noDate.outgoing[0]?.message.data).toEqual({ order_id: "o-m2", service_plan_id: "res-100", bandwidth_mbps: 250, effective_date: "2026-12-01" });
  });

  it("given a modify in flight on a subscriber with an ONU, when RADIUS, billing and the OLT answered, then SubscriberPlanChanged + OrderCompleted", () => {
    const s = accepted(orders.modify(), active());
    const two = answer(s, radiusChanged(), billingChanged());
    expect(two.emitted).toEqual([]);
    const three = answer(two.state, onuChanged());
    expect(three.emitted.map((m) => m.type)).toEqual(["SubscriberPlanChanged", "OrderCompleted"]);
    expect(three.emitted[0]?.data).toEqual({ order_id: "o-m", service_plan_id: "res-500" });
    expect([three.state.status, three.state.pending, three.state.view.service_plan_id, three.state.view.bandwidth_mbps]).toEqual(["active", null, "res-500", 500]);
  });

  it("given a modify in flight on a subscriber without an ONU, when RADIUS and billing answered, then SubscriberPlanChanged + OrderCompleted", () => {
    const r = answer(accepted(orders.modify(), activeWithoutOnu()), billingChanged(), radiusChanged());
    expect(r.emitted.map((m) => m.type)).toEqual(["SubscriberPlanChanged", "OrderCompleted"]);
  });

  it.each([
    ["RadiusPlanChangeFailed", "radius", () => event("RadiusPlanChangeFailed", { username: "u1", service_plan_id: "res-500", code: "no_plan", reason: "no rate limit" }, "o-m")],
    ["BillingPlanChangeFailed", "billing", () => event("BillingPlanChangeFailed", { service_id: "svc-1", service_plan_id: "res-500", code: "no_price", reason: "no price" }, "o-m")],
    ["OnuBandwidthChangeFailed", "olt", () => event("OnuBandwidthChangeFailed", { onu_id: "onu-1", bandwidth_mbps: 500, code: "injected_failure", reason: "OLT says no", reverts_order_id: null }, "o-m")],
  ] as const)("given a modify in flight, when %s arrives, then SubscriberPlanChangeFailed (the plan kept, to put back) and OrderFailed at step %s, once, and later answers complete nothing", (_t, step, failure) => {
    const otherStep = step === "radius" ? billingChanged() : radiusChanged();
    const f = answer(accepted(orders.modify(), active()), otherStep, failure());
    expect(f.emitted.map((m) => m.type)).toEqual(["SubscriberPlanChangeFailed", "OrderFailed"]);
    expect(f.emitted[0]?.data).toEqual({ order_id: "o-m", step, code: failure().data.code, reason: failure().data.reason, service_plan_id: "res-100", bandwidth_mbps: 100, effective_date: "2026-12-01" });
    expect(f.emitted[1]?.data).toMatchObject({ order_id: "o-m", order_type: "modify", subscriber_id: SUB, step, code: failure().data.code });
    expect([f.state.status, f.state.pending, f.state.view.service_plan_id, f.state.view.bandwidth_mbps]).toEqual(["active", null, "res-100", 100]);
    expect(answer(f.state, billingChanged(), onuChanged()).emitted).toEqual([]);
  });

  it("given a failed modify, when the steps put the old plan back, then those answers complete no later order", () => {
    const f = answer(accepted(orders.modify(), active()), radiusChanged(), event("BillingPlanChangeFailed", { service_id: "svc-1", service_plan_id: "res-500", code: "no_price", reason: "no price" }, "o-m"));
    const next = accepted(orders.modify({ service_plan_id: "res-500" }, "o-m2"), f.state);
    const putBack = event("RadiusPlanChanged", { reverts_order_id: "o-m", username: "u1", service_plan_id: "res-100", rate_limit: "100M/100M" }, "o-m");
    const r = answer(next, putBack, billingChanged(), onuChanged());
    expect(r.emitted).toEqual([]); // the put-back is not the new order's RADIUS answer
    expect(r.state.pending?.answers).toEqual(["billing", "olt"]);
  });

  it("given a modify in flight where RADIUS already changed the plan, when a RadiusPlanChangeFailed arrives late, then nothing (the step's first answer counts)", () => {
    const late = answer(accepted(orders.modify(), active()), radiusChanged(), event("RadiusPlanChangeFailed", { username: "u1", service_plan_id: "res-500", code: "x", reason: "late" }, "o-m"));
    expect(late.emitted).toEqual([]);
    expect(late.state.pending?.answers).toEqual(["radius"]);
    expect(answer(late.state, billingChanged(), onuChanged()).emitted.map((m) => m.type)).toEqual(["SubscriberPlanChanged", "OrderCompleted"]);
  });
});

describe("plan change dates (billing periods are calendar months)", () => {
  it("given a date before the current billing period, then effective_date_before_current_period; within it, accepted at once", () => {
    expectRejected(decide(orders.modify({ effective_date: "2026-11-30" }), active()), "effective_date_before_current_period", "modify");
    const within = decide(orders.modify({ effective_date: "2026-12-01" }), active(), { today: "2026-12-15" });
    expect(within.kind === "accepted" && within.outgoing.map((o) => o.message.type)).toEqual(["SubscriberPlanChangeRequested", "OrderAccepted"]);
  });

  it("given a later date, then OrderAccepted + SubscriberPlanChangeScheduled and nothing changes today; the subscriber takes other orders meanwhile", () => {
    const d = decide(orders.modify({ effective_date: "2027-01-01" }), active());
    expect(d.kind).toBe("scheduled");
    if (d.kind !== "scheduled") return;
    expect(d.outgoing.map((o) => [o.message.type, o.topic])).toEqual([["SubscriberPlanChangeScheduled", "subscriber.lifecycle.v1"], ["OrderAccepted", "crm.order-status.v1"]]);
    expect(d.schedule).toMatchObject({ order_id: "o-m", subscriber_id: SUB, service_plan_id: "res-500", bandwidth_mbps: 500, effective_date: "2027-01-01" });
    expect(decide(orders.suspend(), active()).kind).toBe("accepted");
    // A change for a later date is taken even while another order is in flight, or while suspended.
    expect(decide(orders.modify({ effective_date: "2027-01-01" }, "o-m2"), accepted(orders.suspend(), active())).kind).toBe("scheduled");
  });

  it("on its date, a scheduled change becomes the order in flight (SubscriberPlanChangeRequested with its date); it waits for an order in flight; it fails for a subscriber gone", () => {
    const d = decide(orders.modify({ effective_date: "2027-01-01" }), active());
    if (d.kind !== "scheduled") throw new Error(d.kind);
    const released = releaseScheduled(d.schedule, active(), ctx);
    expect(released.kind).toBe("released");
    if (released.kind !== "released") return;
    expect(released.outgoing.map((o) => [o.message.type, o.message.data])).toEqual([
      ["SubscriberPlanChangeRequested", { order_id: "o-m", service_plan_id: "res-500", bandwidth_mbps: 500, effective_date: "2027-01-01" }],
    ]);
    expect(released.outgoing[0]?.message.meta.causation_id).toBe(d.schedule.cause_event_id);
    expect(released.state.pending).toMatchObject({ order_id: "o-m", order_type: "modify", previous: { service_plan_id: "res-100", bandwidth_mbps: 100 } });
    const done = answer(
      released.state,
      event("RadiusPlanChanged", { reverts_order_id: null, username: "u1", service_plan_id: "res-500", rate_limit: "500M/500M" }, "o-m"),
      event("BillingPlanChanged", { reverts_order_id: null, service_id: "svc-1", service_plan_id: "res-500", effective_date: "2027-01-01" }, "o-m"),
      event("OnuBandwidthChanged", { reverts_order_id: null, onu_id: "onu-1", bandwidth_mbps: 500 }, "o-m"),
    );
    expect(done.emitted.map((m) => m.type)).toEqual(["SubscriberPlanChanged", "OrderCompleted"]);

    expect(releaseScheduled(d.schedule, accepted(orders.suspend(), active()), ctx).kind).toBe("wait");
    const gone = releaseScheduled(d.schedule, null, ctx);
    expect(gone.kind === "failed" && gone.outgoing.map((o) => [o.message.type, (o.message as Message<"OrderFailed">).data.code])).toEqual([["OrderFailed", "not_active"]]);
  });
});

describe("terminate", () => {
  const teardown = {
    radius: () => event("RadiusAccountDeleted", { username: "u1", reason: "terminated" } as EventData<"RadiusAccountDeleted">, "o-t"),
    olt: () => event("OnuDeactivated", { onu_id: "onu-1", onu_serial: "ALCL1", reason: "terminated" }, "o-t"),
    ipam: () => event("IpReleased", { ips, reason: "terminated" }, "o-t"),
    billing: () => event("BillingServiceTerminated", { service_id: "svc-1" } as EventData<"BillingServiceTerminated">, "o-t"),
    profile: () => event("NetworkProfileDeleted", { network_profile_id: "np-1", soft_deleted: true, reason: "terminated" }, "o-t"),
  };

  it("given an active (or suspended) subscriber, when a terminate comes, then SubscriberTerminationRequested + OrderAccepted, status terminating", () => {
    const d = decide(orders.terminate(), active());
    expect(d.kind === "accepted" && d.outgoing.map((o) => o.message.type)).toEqual(["SubscriberTerminationRequested", "OrderAccepted"]);
    expect(d.kind === "accepted" && [d.state.status, d.state.view.phase]).toEqual(["terminating", "terminating"]);
    const suspended = answer(accepted(orders.suspend(), active()), event("RadiusAccountSuspended", { username: "u1", mode: "reject" }), event("BillingServiceSuspended", { service_id: "svc-1" } as EventData<"BillingServiceSuspended">)).state;
    expect(decide(orders.terminate(), suspended).kind).toBe("accepted");
  });

  it("given a terminate in flight, when the teardown events arrive, then SubscriberArchived + OrderCompleted only after the last, once", () => {
    let s = accepted(orders.terminate(), active());
    const steps = [teardown.radius(), teardown.olt(), teardown.ipam(), teardown.billing()];
    for (const e of steps) {
      const r = answer(s, e);
      expect(r.emitted).toEqual([]);
      s = r.state;
    }
    const last = answer(s, teardown.profile());
    expect(last.emitted.map((m) => m.type)).toEqual(["SubscriberArchived", "OrderCompleted"]);
    expect(last.emitted[1]?.data).toEqual({ order_id: "o-t", order_type: "terminate", subscriber_id: SUB });
    expect([last.state.status, last.state.pending, last.state.view.phase]).toEqual(["archived", null, "archived"]);
    expect(answer(last.state, teardown.profile()).emitted).toEqual([]);
  });

  it("given a terminate in flight, when the OLT refuses to deactivate, then SubscriberTeardownFailed + OrderFailed; other orders are refused; a new terminate retries and completes it", () => {
    const refused = event("OnuDeactivationFailed", { onu_id: "onu-1", onu_serial: "ALCL1", purpose: "terminated", code: "injected_failure", reason: "OLT busy" }, "o-t");
    const f = answer(accepted(orders.terminate(), active()), teardown.radius(), refused);
    expect(f.emitted.map((m) => m.type)).toEqual(["SubscriberTeardownFailed", "OrderFailed"]);
    expect(f.emitted[0]?.data).toEqual({ order_id: "o-t", step: "olt", code: "injected_failure", reason: "OLT busy", remaining: ["olt", "ipam", "billing", "profile"] });
    expect(f.emitted[1]?.data).toMatchObject({ order_id: "o-t", order_type: "terminate", step: "olt", code: "injected_failure" });
    expect(f.state.status).toBe("terminating");
    expectRejected(decide(orders.suspend(), f.state), "teardown_stalled", "suspend");
    const retry = decide(orders.terminate("o-t2"), f.state);
    expect(retry.kind === "accepted" && retry.outgoing.map((o) => o.message.type)).toEqual(["SubscriberTerminationRequested", "OrderAccepted"]);
    if (retry.kind !== "accepted") return;
    const r = answer(retry.state, teardown.olt(), teardown.ipam(), teardown.billing(), teardown.profile());
    expect(r.emitted.map((m) => m.type)).toEqual(["SubscriberArchived", "OrderCompleted"]);
    expect(r.emitted[1]?.data).toMatchObject({ order_id: "o-t2", order_type: "terminate" });
  });

  it("given a stalled termination, when the teardown finishes anyway (a late step), then SubscriberArchived only: the CRM already heard OrderFailed", () => {
    const refused = event("OnuDeactivationFailed", { onu_id: "onu-1", onu_serial: "ALCL1", purpose: "terminated", code: "injected_failure", reason: "OLT busy" }, "o-t");
    const f = answer(accepted(orders.terminate(), active()), teardown.radius(), refused);
    const r = answer(f.state, teardown.olt(), teardown.ipam(), teardown.billing(), teardown.profile());
    expect(r.emitted.map((m) => m.type)).toEqual(["SubscriberArchived"]);
    expect([r.state.status, r.state.pending]).toEqual(["archived", null]);
  });

  it("given a provisioning whose rollback the OLT refused, when a terminate comes, then it is accepted to clean up what is left", () => {
    const failedAt = story([ev.profile(), ev.ipam(), ev.radius(), ev.olt(), event("BillingServiceCreationFailed", { code: "price_not_configured", reason: "no price" })]);
    expectRejected(decide(orders.terminate(), failedAt), "not_provisioned", "terminate");
    const stuck = answer(failedAt, event("OnuDeactivationFailed", { onu_id: "onu-1", onu_serial: "ALCL1", purpose: "rollback", code: "injected_failure", reason: "OLT busy" })).state;
    expect(decide(orders.terminate(), stuck).kind).toBe("accepted");
  });

  it("given a subscriber without an ONU, when RADIUS, IPs, billing and the profile are torn down, then archived", () => {
    const r = answer(accepted(orders.terminate(), activeWithoutOnu()), teardown.radius(), teardown.ipam(), teardown.billing(), teardown.profile());
    expect(r.emitted.map((m) => m.type)).toEqual(["SubscriberArchived", "OrderCompleted"]);
  });
});

describe("the deadline of a lifecycle order", () => {
  const now = 1_700_000_000_000; // ctx.now(): the order's acceptance
  const deadlineMs = 120_000;

  it("given a suspension radius answered and billing did not, when the deadline passes, then OrderFailed at billing (deadline_exceeded) and the subscriber takes orders again", () => {
    const suspending = accepted(orders.suspend(), active());
    expect(suspending.last_progress_at).toBe(now);
    const { state } = answer(suspending, event("RadiusAccountSuspended", { username: "u1", mode: "reject" }, "o-s"));
    expect(decideOrderDeadline(state, { now: now + deadlineMs - 1, deadlineMs }, ctx).outgoing).toEqual([]);
    const d = decideOrderDeadline(state, { now: now + deadlineMs, deadlineMs }, ctx);
    expect(d.outgoing.map((o) => [o.message.type, o.topic, o.key])).toEqual([["OrderFailed", "crm.order-status.v1", "o-s"]]);
    expect(d.outgoing[0]?.message.data).toEqual({ order_id: "o-s", order_type: "suspend", subscriber_id: SUB, step: "billing", reason: "no answer from billing within 120 s", code: "deadline_exceeded" });
    expect(d.outgoing[0]?.message.meta.correlation_id).toBe("o-s");
    expect(d.state.pending).toBeNull();
    expect(decide(orders.suspend("o-s2"), d.state).kind).toBe("accepted"); // not operation_in_progress any more
  });

  it("given a termination with no teardown progress, when the deadline passes, then SubscriberTeardownFailed (what is left) + OrderFailed, and it waits for a retry", () => {
    const terminating = answer(accepted(orders.terminate(), active()), event("RadiusAccountDeleted", { username: "u1", reason: "terminated" } as EventData<"RadiusAccountDeleted">, "o-t")).state;
    const d = decideOrderDeadline(terminating, { now: now + deadlineMs, deadlineMs }, ctx);
    expect(d.outgoing.map((o) => o.message.type)).toEqual(["SubscriberTeardownFailed", "OrderFailed"]);
    expect(d.outgoing[0]?.message.data).toMatchObject({ order_id: "o-t", step: "olt", code: "deadline_exceeded", remaining: ["olt", "ipam", "billing", "profile"] });
    expect(d.outgoing[1]?.message.data).toMatchObject({ order_id: "o-t", order_type: "terminate", step: "olt", code: "deadline_exceeded" });
    expect(d.state.pending?.stalled).toMatchObject({ step: "olt", code: "deadline_exceeded" });
    expect(decideOrderDeadline(d.state, { now: now + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]); // failed once
  });

  it("given no order in flight, then nothing", () => {
    expect(decideOrderDeadline(active(), { now: now + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]);
  });
});
