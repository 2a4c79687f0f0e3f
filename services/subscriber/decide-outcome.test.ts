// Provisioning outcome rules: given a subscriber's story, when an event (or the deadline) comes,
// then these events.
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { decideDeadline, decideLifecycle, decideProfileDeadline, startTracking, type Decision, type Tracked } from "./decide-outcome.js";

const T0 = 1_700_000_000_000;
let clock = T0;
let seq = 0;
const ctx: EventContext = { producer: "subscriber", now: () => clock, newId: () => `out-${++seq}` };

function event<K extends EventName>(type: K, data: EventData<K>, id = `${type}-${++seq}`): Message<K> {
  return {
    type,
    meta: { event_id: id, occurred_at: clock, tenant_id: "tenant-a", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: null, producer: "test" },
    data,
  } as Message<K>;
}

const network = {
  service_vlan: 100, inner_vlan: null, qinq_enabled: false, vlan_pool: null, circuit_id: null, remote_id: null, option82_policy: "log",
  static_ipv4: null, static_ipv6: null, delegated_ipv6_prefix: null, ipv6_pd_size: null, ipv6_assignment_mode: "none",
  ipv4_pool: null, ipv6_pool: null, ipv6_pd_pool: null,
};
const profile = { network_profile_id: "np-1", config: network, metadata: {} };
const ips = { ipv4: "100.64.0.9", ipv6: null, ipv6_prefix: null, source: "dynamic" };

const created = () =>
  event("SubscriberCreated", {
    order_id: "order-1", subscriber_number: "SUB-000001", crm_reference: "CRM-1",
    customer: { first_name: "J", last_name: "D", email: "j@d.io", phone: null }, service_address: "1 Main St",
    connection_type: "ftth", service_plan_id: "res-100", bandwidth_mbps: 100, onu_serial: "ALCL1", network, metadata: {},
  });

const success = {
  profile: () => event("NetworkProfileCreated", { profile }),
  ipam: () => event("IpAllocated", { ips }),
  radius: () => event("RadiusAccountCreated", { username: "u1", plan_group: "res-100" }),
  olt: () => event("OnuActivated", { onu_id: "onu-1", onu_serial: "ALCL1", olt_id: "olt-1", pon_port: "1/1/1", s_vlan: 100, c_vlan: null, bandwidth_mbps: 100 }),
  billing: () => event("BillingServiceCreated", { service_id: "svc-1", service_plan_id: "res-100", status: "active" }),
};

/** Given these events after SubscriberCreated, the state and everything emitted along the way. */
function given(...events: Message[]): { state: Tracked; emitted: Message[] } {
  let state = startTracking(created(), clock);
  const emitted: Message[] = [];
  for (const e of events) {
    const d = decideLifecycle(state, e, ctx);
    state = d.state;
    emitted.push(...d.outgoing.map((o) => o.message));
  }
  return { state, emitted };
}

const types = (d: Decision) => d.outgoing.map((o) => [o.message.type, o.topic, o.key]);

describe("provisioned", () => {
  it("given every step succeeded, when BillingServiceCreated arrives, then SubscriberProvisioned + OrderCompleted and status active", () => {
    const { state } = given(success.profile(), success.ipam(), success.radius(), success.olt());
    const billing = success.billing();
    const d = decideLifecycle(state, billing, ctx);
    expect(types(d)).toEqual([
      ["SubscriberProvisioned", "subscriber.lifecycle.v1", "sub-1"],
      ["OrderCompleted", "crm.order-status.v1", "order-1"],
    ]);
    expect(d.outgoing[1]?.message.data).toEqual({ order_id: "order-1", order_type: "provision", subscriber_id: "sub-1" });
    expect(d.outgoing[0]?.message.meta).toMatchObject({ causation_id: billing.meta.event_id, correlation_id: "order-1", subscriber_id: "sub-1" });
    expect(d.state.status).toBe("active");
  });

  it("given the subscriber is active, when BillingServiceCreated is seen again (another event id), then nothing", () => {
    const { state } = given(success.billing());
    expect(decideLifecycle(state, success.billing(), ctx).outgoing).toEqual([]);
  });

  it("given our own SubscriberProvisioned comes back from Kafka, then nothing and the status stays", () => {
    const { state, emitted } = given(success.billing());
    const echo = emitted.find((m) => m.type === "SubscriberProvisioned");
    const d = decideLifecycle(state, echo as Message, ctx);
    expect([d.outgoing, d.state.status]).toEqual([[], "active"]);
  });
});

describe("failed", () => {
  it.each([
    ["NetworkProfileCreationFailed", "profile", event("NetworkProfileCreationFailed", { code: "vlan_in_use", reason: "QinQ VLAN pair 100/10 already belongs to subscriber sub-0" })],
    ["IpAllocationFailed", "ipam", event("IpAllocationFailed", { code: "pool_exhausted", reason: "no free IPv4" })],
    ["RadiusAccountCreationFailed", "radius", event("RadiusAccountCreationFailed", { code: "no_plan", reason: "no RADIUS plan" })],
    ["OnuActivationFailed", "olt", event("OnuActivationFailed", { onu_serial: "ALCL1", code: "not_found", reason: "ONU not discovered" })],
    ["BillingServiceCreationFailed", "billing", event("BillingServiceCreationFailed", { code: "no_price", reason: "no price" })],
  ] as const)("given provisioning, when %s arrives, then SubscriberProvisioningFailed + OrderFailed at step %s", (_t, step, failure) => {
    const { state } = given(...(step === "profile" ? [] : [success.profile()]));
    const d = decideLifecycle(state, failure, ctx);
    const { reason, code } = failure.data as { reason: string; code: string };
    // At the first step nothing succeeded before: nothing to undo, rolled back at once.
    const first = step === "profile";
    expect(types(d)).toEqual([
      ["SubscriberProvisioningFailed", "subscriber.lifecycle.v1", "sub-1"],
      ["OrderFailed", "crm.order-status.v1", "order-1"],
      ...(first ? [["SubscriberProvisioningRolledBack", "subscriber.lifecycle.v1", "sub-1"]] : []),
    ]);
    expect(d.outgoing[0]?.message.data).toEqual({ order_id: "order-1", step, reason, code });
    expect(d.outgoing[1]?.message.data).toEqual({ order_id: "order-1", order_type: "provision", subscriber_id: "sub-1", step, reason, code });
    expect(d.state.status).toBe(first ? "rolled_back" : "failed");
    expect(d.state.view.progress.failure).toEqual({ step, reason });
  });

  it("given it already failed, when a second failure arrives, then nothing (first failure only)", () => {
    const { state } = given(success.profile(), event("IpAllocationFailed", { code: "x", reason: "first" }));
    const d = decideLifecycle(state, event("RadiusAccountCreationFailed", { code: "y", reason: "second" }), ctx);
    expect(d.outgoing).toEqual([]);
    expect(d.state.view.progress.failure?.reason).toBe("first");
  });

  it("given it failed, when a late BillingServiceCreated arrives, then no SubscriberProvisioned", () => {
    const { state } = given(success.profile(), event("IpAllocationFailed", { code: "x", reason: "r" }));
    const d = decideLifecycle(state, success.billing(), ctx);
    expect(d.outgoing).toEqual([]);
    expect(d.state.status).toBe("failed");
  });
});

describe("rolled back", () => {
  it("given profile and IPs succeeded then RADIUS failed, when IpReleased and NetworkProfileDeleted arrive, then SubscriberProvisioningRolledBack once, after the last", () => {
    const { state } = given(success.profile(), success.ipam(), event("RadiusAccountCreationFailed", { code: "no_plan", reason: "r" }));
    const afterIps = decideLifecycle(state, event("IpReleased", { ips, reason: "rollback" }), ctx);
    expect(afterIps.outgoing).toEqual([]);
    const afterProfile = decideLifecycle(afterIps.state, event("NetworkProfileDeleted", { network_profile_id: "np-1", soft_deleted: true, reason: "rollback" }), ctx);
    expect(types(afterProfile)).toEqual([["SubscriberProvisioningRolledBack", "subscriber.lifecycle.v1", "sub-1"]]);
    expect(afterProfile.outgoing[0]?.message.data).toEqual({ order_id: "order-1", compensated: ["ipam", "profile"] });
    expect(afterProfile.state.status).toBe("rolled_back");
    const again = decideLifecycle(afterProfile.state, event("NetworkProfileDeleted", { network_profile_id: "np-1", soft_deleted: true, reason: "rollback" }), ctx);
    expect(again.outgoing).toEqual([]);
  });

  it("given nothing had succeeded, when the first step fails, then failed and rolled back at once", () => {
    const { state } = given(event("NetworkProfileSkipped", { code: null, reason: "disabled", network }));
    const d = decideLifecycle(state, event("IpAllocationFailed", { code: "pool_exhausted", reason: "empty" }), ctx);
    expect(d.outgoing.map((o) => o.message.type)).toEqual(["SubscriberProvisioningFailed", "OrderFailed", "SubscriberProvisioningRolledBack"]);
    expect(d.outgoing[2]?.message.data).toEqual({ order_id: "order-1", compensated: [] });
    expect(d.state.status).toBe("rolled_back");
  });

  it("given rolled back, when our own SubscriberProvisioningFailed echo arrives, then nothing more", () => {
    const { state, emitted } = given(event("IpAllocationFailed", { code: "x", reason: "r" }));
    const echo = emitted.find((m) => m.type === "SubscriberProvisioningFailed") as Message;
    expect(decideLifecycle(state, echo, ctx).outgoing).toEqual([]);
  });
});

describe("deadline", () => {
  const deadlineMs = 120_000;

  it("given no progress since the last event for the deadline, then failed at the step we wait for, caused by that event", () => {
    clock = T0;
    const { state } = given(success.profile(), success.ipam());
    const d = decideDeadline(state, { now: T0 + deadlineMs, deadlineMs }, ctx);
    expect(types(d)).toEqual([
      ["SubscriberProvisioningFailed", "subscriber.lifecycle.v1", "sub-1"],
      ["OrderFailed", "crm.order-status.v1", "order-1"],
    ]);
    expect(d.outgoing[0]?.message.data).toEqual({ order_id: "order-1", step: "radius", reason: "no progress within 120 s", code: "deadline_exceeded" });
    expect(d.outgoing[0]?.message.meta).toMatchObject({ causation_id: state.last_event_id, correlation_id: "order-1", tenant_id: "tenant-a", subscriber_id: "sub-1" });
    expect(d.state.status).toBe("failed");
  });

  it("given less time than the deadline passed, then nothing", () => {
    clock = T0;
    const { state } = given(success.profile());
    expect(decideDeadline(state, { now: T0 + deadlineMs - 1, deadlineMs }, ctx).outgoing).toEqual([]);
  });

  it("given the profile and the ONU were skipped, then the step waited for skips them", () => {
    clock = T0;
    const { state } = given(event("NetworkProfileSkipped", { code: null, reason: "off", network }), success.ipam(), success.radius(), event("OnuActivationSkipped", { connection_type: "dsl", reason: "not FTTH" }));
    const d = decideDeadline(state, { now: T0 + deadlineMs, deadlineMs }, ctx);
    expect(d.outgoing[0]?.message.data).toMatchObject({ step: "billing" });
  });

  it("given nothing succeeded yet, then the deadline fails at profile and rolls back at once", () => {
    clock = T0;
    const { state } = given();
    const d = decideDeadline(state, { now: T0 + deadlineMs, deadlineMs }, ctx);
    expect(d.outgoing.map((o) => o.message.type)).toEqual(["SubscriberProvisioningFailed", "OrderFailed", "SubscriberProvisioningRolledBack"]);
    expect(d.outgoing[0]?.message.data).toMatchObject({ step: "profile" });
  });

  it("given the subscriber is no longer provisioning, then the deadline does nothing", () => {
    clock = T0;
    const { state } = given(success.billing());
    expect(decideDeadline(state, { now: T0 + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]);
  });

  it("given an event arrived later, then the deadline counts from it", () => {
    clock = T0;
    let { state } = given(success.profile());
    clock = T0 + 100_000;
    state = decideLifecycle(state, success.ipam(), ctx).state;
    expect(decideDeadline(state, { now: T0 + deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]);
    clock = T0;
  });
});

describe("the profile deadline (the seed: profile failures never block provisioning)", () => {
  const deadlineMs = 10_000;

  it("given no answer from the profile service, when its deadline passes, then NetworkProfileSkipped {code timeout} with the order's network, and the chain waits for ipam", () => {
    const { state } = given();
    expect(decideProfileDeadline(state, { now: T0 + deadlineMs - 1, deadlineMs }, ctx).outgoing).toEqual([]);
    const d = decideProfileDeadline(state, { now: T0 + deadlineMs, deadlineMs }, ctx);
    expect(types(d)).toEqual([["NetworkProfileSkipped", "subscriber.lifecycle.v1", "sub-1"]]);
    expect(d.outgoing[0]?.message.data).toMatchObject({ code: "timeout", network });
    expect(d.outgoing[0]?.message.meta.correlation_id).toBe("order-1");
    expect([d.state.skipped, d.state.last_progress_at, d.state.status]).toEqual([["profile"], T0 + deadlineMs, "provisioning"]);
    expect(decideProfileDeadline(d.state, { now: T0 + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]); // once
  });

  it("given the profile answered, or a later step is awaited, then nothing", () => {
    expect(decideProfileDeadline(given(success.profile()).state, { now: T0 + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]);
    expect(decideProfileDeadline(given(success.profile(), success.ipam()).state, { now: T0 + 10 * deadlineMs, deadlineMs }, ctx).outgoing).toEqual([]);
  });

  it("given the profile skipped on timeout, when the profile service answers late (a profile, or vlan_in_use), then provisioning goes on: no failure, the order's network kept", () => {
    const skipped = decideProfileDeadline(given().state, { now: T0 + deadlineMs, deadlineMs }, ctx).state;
    const lateFailure = decideLifecycle(skipped, event("NetworkProfileCreationFailed", { code: "vlan_in_use", reason: "pair taken" }), ctx);
    expect(lateFailure.outgoing).toEqual([]);
    expect(lateFailure.state.status).toBe("provisioning");
    const otherNetwork = { ...network, service_vlan: 999 };
    const lateProfile = decideLifecycle(skipped, event("NetworkProfileCreated", { profile: { ...profile, config: otherNetwork } }), ctx).state;
    expect([lateProfile.view.network.service_vlan, lateProfile.view.network_source, lateProfile.view.network_profile_id]).toEqual([100, "order", "np-1"]);
    const done = [success.ipam(), success.radius(), success.olt(), success.billing()].reduce((s, e) => decideLifecycle(s, e, ctx).state, lateProfile);
    expect(done.status).toBe("active");
  });
});
