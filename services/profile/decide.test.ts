// The profile service's rules, as given (events already seen, stored profile) / when (event) /
// then (decision and the event it emits).
import { describe, expect, it } from "vitest";
import type { EventData, EventName, FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { decide, disabledReason, type ProfileState, type StoredProfile } from "./decide.js";

const ctx = { producer: "profile", now: () => 1_700_000_000_500, newId: () => "11111111-1111-4111-8111-111111111111" };
const on = { enabled: true };

let seq = 0;
function event<K extends EventName>(type: K, data: EventData<K>): Message<K> {
  seq += 1;
  return {
    type,
    meta: {
      event_id: `e-${seq}`,
      occurred_at: 1_700_000_000_000 + seq,
      tenant_id: "tenant-a",
      subscriber_id: "sub-1",
      correlation_id: "order-1",
      causation_id: null,
      producer: "test",
    },
    data,
  } as Message<K>;
}

const network: FiberNetworkConfig = {
  service_vlan: 100,
  inner_vlan: 1000,
  qinq_enabled: true,
  vlan_pool: "residential",
  circuit_id: "OLT1/1/1/1:1",
  remote_id: "FTTH-CPE-12345",
  option82_policy: "log",
  static_ipv4: null,
  static_ipv6: null,
  delegated_ipv6_prefix: null,
  ipv6_pd_size: 56,
  ipv6_assignment_mode: "dual_stack",
  ipv4_pool: null,
  ipv6_pool: null,
  ipv6_pd_pool: null,
};

const created = () =>
  event("SubscriberCreated", {
    order_id: "order-1",
    subscriber_number: "SUB-0001",
    crm_reference: "crm-1",
    customer: { first_name: "John", last_name: "Doe", email: "john@example.com", phone: null },
    service_address: "123 Main St",
    connection_type: "ftth",
    service_plan_id: "residential_100mbps",
    bandwidth_mbps: 100,
    onu_serial: "ALCL12345678",
    network,
    metadata: { custom_field: "value" },
  });

const profile: StoredProfile = { network_profile_id: "p-1", config: network, metadata: { custom_field: "value" }, deleted: false };
const profileCreated = () => event("NetworkProfileCreated", { profile: { network_profile_id: "p-1", config: network, metadata: {} } });
const dynamicIps: FiberIpAssignment = { ipv4: "100.64.0.7", ipv6: "2001:db8::7", ipv6_prefix: "2001:db8:7::/56", source: "dynamic" };
const ipAllocated = (ips = dynamicIps) => event("IpAllocated", { ips });
const failed = (step = "radius") => event("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step, reason: "boom" });

const given = (events: readonly Message[], stored: StoredProfile | null = profile, vlanOwner: string | null = null): ProfileState => ({
  view: events.reduce<SubscriberView | null>((v, m) => evolveView(v, m), null),
  profile: stored,
  vlanOwner,
});

describe("creating the network profile from the order", () => {
  it("creates the profile from the order's network config and metadata and announces it", () => {
    const m = created();
    const { decision, view } = decide(given([], null), m, ctx, on);
    const expected = { network_profile_id: ctx.newId(), config: network, metadata: { custom_field: "value" } };
    expect(decision).toEqual({
      kind: "create",
      profile: expected,
      event: {
        type: "NetworkProfileCreated",
        meta: { event_id: ctx.newId(), occurred_at: 1_700_000_000_500, tenant_id: "tenant-a", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: m.meta.event_id, producer: "profile" },
        data: { profile: expected },
      },
    });
    expect(view?.order_network).toEqual(network);
  });

  it("fails the order (vlan_in_use) when another live subscriber holds the QinQ VLAN pair: two customers never share a C-VLAN", () => {
    const m = created();
    const { decision } = decide(given([], null, "sub-other"), m, ctx, on);
    expect(decision.kind).toBe("fail");
    expect(decision.kind === "fail" && decision.event.type).toBe("NetworkProfileCreationFailed");
    expect(decision.kind === "fail" && decision.event.data).toEqual({ code: "vlan_in_use", reason: "QinQ VLAN pair 100/1000 already belongs to subscriber sub-other" });
    expect(decision.kind === "fail" && decision.event.meta.causation_id).toBe(m.meta.event_id);
  });

  it("shares an S-VLAN freely without QinQ (the pair rule is for QinQ only)", () => {
    const m = event("SubscriberCreated", { ...created().data, network: { ...network, qinq_enabled: false } });
    expect(decide(given([], null, "sub-other"), m, ctx, on).decision.kind).toBe("create");
  });

  it("skips with the order's network when ENABLE_NETWORK_PROFILE_CONSUMPTION is false", () => {
    const { decision } = decide(given([], null), created(), ctx, { enabled: false });
    expect(decision.kind === "skip" && decision.event.data).toEqual({ reason: disabledReason, network, code: "consumption_disabled" });
  });

  it("does nothing for a SubscriberCreated seen before (the profile was created or skipped then)", () => {
    const first = created();
    expect(decide(given([first]), first, ctx, on).decision.kind).toBe("none");
  });
});

describe("writing dynamic IPs back to the profile", () => {
  it("writes dynamically allocated IPs back and announces the updated profile (ip_writeback)", () => {
    const m = ipAllocated();
    const { decision } = decide(given([created(), profileCreated()]), m, ctx, on);
    const ips = { static_ipv4: "100.64.0.7", static_ipv6: "2001:db8::7", delegated_ipv6_prefix: "2001:db8:7::/56" };
    expect(decision.kind).toBe("writeback");
    if (decision.kind !== "writeback") return;
    expect(decision.ips).toEqual(ips);
    expect(decision.event.type).toBe("NetworkProfileUpdated");
    expect(decision.event.data).toEqual({
      profile: { network_profile_id: "p-1", config: { ...network, ...ips }, metadata: { custom_field: "value" } },
      change: "ip_writeback",
    });
    expect(decision.event.meta.causation_id).toBe(m.meta.event_id);
  });

  it("keeps what the profile has for a family the allocation did not cover", () => {
    const withV6: StoredProfile = { ...profile, config: { ...network, static_ipv6: "2001:db8::99" } };
    const { decision } = decide(given([created(), profileCreated()], withV6), ipAllocated({ ...dynamicIps, ipv6: null }), ctx, on);
    expect(decision.kind === "writeback" && decision.ips.static_ipv6).toBe("2001:db8::99");
  });

  it.each(["network_profile", "order_static"])("writes nothing back for IPs from %s", (source) => {
    expect(decide(given([created(), profileCreated()]), ipAllocated({ ...dynamicIps, source }), ctx, on).decision.kind).toBe("none");
  });

  it("writes nothing when the IPs are already on the profile", () => {
    const written: StoredProfile = { ...profile, config: { ...network, static_ipv4: "100.64.0.7", static_ipv6: "2001:db8::7", delegated_ipv6_prefix: "2001:db8:7::/56" } };
    expect(decide(given([created(), profileCreated()], written), ipAllocated(), ctx, on).decision.kind).toBe("none");
  });

  it("writes nothing when the profile was skipped (no profile) or is deleted", () => {
    expect(decide(given([created()], null), ipAllocated(), ctx, on).decision.kind).toBe("none");
    expect(decide(given([created(), profileCreated()], { ...profile, deleted: true }), ipAllocated(), ctx, on).decision.kind).toBe("none");
  });

  it("writes nothing when provisioning already failed", () => {
    expect(decide(given([created(), profileCreated(), failed("ipam")]), ipAllocated(), ctx, on).decision.kind).toBe("none");
  });
});

describe("compensation: the profile goes last", () => {
  it("soft-deletes on failure when the profile is the only step that succeeded", () => {
    const m = failed("ipam");
    const { decision } = decide(given([created(), profileCreated()]), m, ctx, on);
    expect(decision.kind === "soft-delete" && decision.event.data).toEqual({ network_profile_id: "p-1", soft_deleted: true, reason: "rollback" });
    expect(decision.kind === "soft-delete" && decision.event.meta.causation_id).toBe(m.meta.event_id);
  });

  it("waits while a later step that succeeded (ipam) is not undone, then soft-deletes on its IpReleased", () => {
    const history = [created(), profileCreated(), ipAllocated(), failed("radius")];
    expect(decide(given(history.slice(0, 3)), history[3]!, ctx, on).decision.kind).toBe("none");
    const released = event("IpReleased", { ips: dynamicIps, reason: "rollback" });
    expect(decide(given(history), released, ctx, on).decision.kind).toBe("soft-delete");
  });

  it("does nothing again once the profile is deleted (a later event or a redelivery)", () => {
    const history = [created(), profileCreated(), failed("ipam")];
    expect(decide(given(history, { ...profile, deleted: true }), event("SubscriberProvisioningRolledBack", { order_id: "order-1", compensated: [] }), ctx, on).decision.kind).toBe("none");
  });

  it("does nothing on failure when the profile was skipped (it never succeeded)", () => {
    const skipped = event("NetworkProfileSkipped", { code: null, reason: "x", network });
    expect(decide(given([created(), skipped], null), failed("ipam"), ctx, on).decision.kind).toBe("none");
  });

  it("soft-deletes on termination once RADIUS, ONU, IPs and billing are gone", () => {
    // given a terminating subscriber that held every part, all torn down but billing
    const history = [
      created(),
      profileCreated(),
      ipAllocated(),
      event("RadiusAccountCreated", { username: "u", plan_group: "g" }),
      event("OnuActivated", { onu_id: "onu-1", onu_serial: "S", olt_id: "o", pon_port: "0/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 }),
      event("BillingServiceCreated", { service_id: "svc-1", service_plan_id: "p", status: "active" }),
      event("SubscriberProvisioned", { order_id: "order-1" }),
      event("SubscriberTerminationRequested", { order_id: "order-2", reason: null }),
      event("RadiusAccountDeleted", { username: "u", reason: "terminated" }),
      event("OnuDeactivated", { onu_id: "onu-1", onu_serial: "S", reason: "terminated" }),
      event("IpReleased", { ips: dynamicIps, reason: "terminated" }),
    ];
    // then nothing happens while billing still holds the service
    expect(decide(given(history.slice(0, -1)), history.at(-1) as Message, ctx, on).decision.kind).toBe("none");
    // when billing is terminated, then the profile is soft-deleted
    const { decision } = decide(given(history), event("BillingServiceTerminated", { service_id: "svc-1" }), ctx, on);
    expect(decision.kind === "soft-delete" && decision.event.data).toEqual({ network_profile_id: "p-1", soft_deleted: true, reason: "terminated" });
  });

  it("does not soft-delete on BillingServiceTerminated for a subscriber that is not terminating", () => {
    const { decision } = decide(given([created(), profileCreated()]), event("BillingServiceTerminated", { service_id: "svc-1" }), ctx, on);
    expect(decision.kind).toBe("none");
  });
});
