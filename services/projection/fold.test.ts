// The projection fold, as given (events folded so far) / when (event) / then (document).
import { describe, expect, it } from "vitest";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { fold, snapshotOf, type ProjectionDocument } from "./fold.js";

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
  vlan_pool: null,
  circuit_id: "OLT1/1/1/1:1",
  remote_id: null,
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
const ips = { ipv4: "100.64.0.7", ipv6: "2001:db8::7", ipv6_prefix: "2001:db8:7::/56", source: "dynamic" };

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
    metadata: {},
  });
const profileCreated = () => event("NetworkProfileCreated", { profile: { network_profile_id: "p-1", config: network, metadata: {} } });
const skipped = () => event("NetworkProfileSkipped", { code: null, reason: "QinQ VLAN pair 100/1000 already belongs to subscriber sub-9", network });
const ipAllocated = () => event("IpAllocated", { ips });
const radius = () => event("RadiusAccountCreated", { username: "sub-0001@isp", plan_group: "residential_100mbps" });
const onu = () =>
  event("OnuActivated", { onu_id: "onu-123", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "0/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 });
const billing = () => event("BillingServiceCreated", { service_id: "svc-1", service_plan_id: "residential_100mbps", status: "active" });
const provisioned = () => event("SubscriberProvisioned", { order_id: "order-1" });
const failed = () => event("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step: "radius", reason: "no RADIUS plan" });

const given = (events: readonly Message[]): ProjectionDocument | null => events.reduce<ProjectionDocument | null>((d, m) => fold(d, m), null);
const happyPath = () => [created(), profileCreated(), ipAllocated(), radius(), onu(), billing(), provisioned()];

describe("status", () => {
  it("is provisioning once the subscriber is created", () => {
    expect(fold(null, created()).status).toBe("provisioning");
  });

  it("turns active when provisioned with a network profile", () => {
    expect(given(happyPath())?.status).toBe("active");
  });

  it("turns degraded when provisioned after the network profile was skipped, and says why", () => {
    const doc = given([created(), skipped(), ipAllocated(), radius(), onu(), billing(), provisioned()]);
    expect(doc?.status).toBe("degraded");
    expect(doc?.degraded_reasons).toEqual(["network profile skipped: QinQ VLAN pair 100/1000 already belongs to subscriber sub-9"]);
  });

  it("turns failed on SubscriberProvisioningFailed and rolled_back on SubscriberProvisioningRolledBack", () => {
    const history = [created(), profileCreated(), failed()];
    expect(given(history)?.status).toBe("failed");
    expect(given([...history, event("SubscriberProvisioningRolledBack", { order_id: "order-1", compensated: ["profile"] })])?.status).toBe("rolled_back");
  });

  it("follows suspension, resumption and termination", () => {
    const suspended = [...happyPath(), event("SubscriberSuspended", { order_id: "o-2" })];
    expect(given(suspended)?.status).toBe("suspended");
    expect(given([...suspended, event("SubscriberResumed", { order_id: "o-3" })])?.status).toBe("active");
    expect(given([...happyPath(), event("SubscriberArchived", { order_id: "o-4" })])?.status).toBe("terminated");
  });
});

describe("the service_metadata document", () => {
  it("has exactly the seed's shape after a provisioning, cpe_id empty", () => {
    const doc = given(happyPath());
    expect(doc?.service_metadata).toStrictEqual({
      network_profile: { network_profile_id: "p-1", service_vlan: 100, inner_vlan: 1000, qinq_enabled: true, ipv6_assignment_mode: "dual_stack" },
      allocated_ips: { ipv4: "100.64.0.7", ipv6: "2001:db8::7", ipv6_prefix: "2001:db8:7::/56", source: "dynamic" },
      devices: { onu_id: "onu-123", cpe_id: null },
      radius: { username: "sub-0001@isp" },
    });
  });

  it("keeps network_profile null when the profile was skipped; the timeline names the order's VLANs", () => {
    const doc = given([created(), skipped()]);
    expect(doc?.service_metadata.network_profile).toBeNull();
    expect(doc?.timeline.at(-1)?.summary).toBe(
      "Network profile skipped: QinQ VLAN pair 100/1000 already belongs to subscriber sub-9; going on with the order's network settings (VLAN 100/1000 (QinQ))",
    );
  });

  it("takes the written-back profile from NetworkProfileUpdated", () => {
    const updated = event("NetworkProfileUpdated", {
      profile: { network_profile_id: "p-1", config: { ...network, static_ipv4: "100.64.0.7", ipv6_assignment_mode: "pd" }, metadata: {} },
      change: "ip_writeback",
    });
    expect(given([created(), profileCreated(), ipAllocated(), updated])?.service_metadata.network_profile?.ipv6_assignment_mode).toBe("pd");
  });

  it("clears what compensation undoes, and keeps those events in the timeline", () => {
    const undo = [
      event("OnuDeactivated", { onu_id: "onu-123", onu_serial: "ALCL12345678", reason: "rollback" }),
      event("RadiusAccountDeleted", { username: "sub-0001@isp", reason: "rollback" }),
      event("IpReleased", { ips, reason: "rollback" }),
      event("NetworkProfileDeleted", { network_profile_id: "p-1", soft_deleted: true, reason: "rollback" }),
    ];
    const doc = given([created(), profileCreated(), ipAllocated(), radius(), onu(), failed(), ...undo]);
    expect(doc?.service_metadata).toStrictEqual({ network_profile: null, allocated_ips: null, devices: { onu_id: null, cpe_id: null }, radius: { username: null } });
    expect(doc?.timeline.slice(-4).map((t) => t.event_type)).toEqual(["OnuDeactivated", "RadiusAccountDeleted", "IpReleased", "NetworkProfileDeleted"]);
  });
});

describe("timeline", () => {
  it("records every event with its occurred_at, type, id and a short sentence", () => {
    const m = ipAllocated();
    const doc = fold(given([created()]), m);
    expect(doc.timeline.at(-1)).toEqual({ at: m.meta.occurred_at, event_type: "IpAllocated", event_id: m.meta.event_id, summary: "IPs allocated: 100.64.0.7, 2001:db8::7, 2001:db8:7::/56 (dynamic)" });
    expect(doc.last_event_id).toBe(m.meta.event_id);
  });
});

describe("determinism", () => {
  it("changes nothing for a redelivered event (same event_id already in the timeline)", () => {
    const history = happyPath();
    const doc = given(history);
    expect(fold(doc, history[2]!)).toBe(doc);
  });

  it("rebuilds equal documents when the same events are replayed from the start", () => {
    const history = [created(), skipped(), ipAllocated(), radius(), onu(), billing(), provisioned()];
    expect(given(history)).toStrictEqual(given(history));
  });

  it("starts a document from the event's tenant and subscriber even when SubscriberCreated was not seen", () => {
    const doc = fold(null, ipAllocated());
    expect(doc).toMatchObject({ tenant_id: "tenant-a", subscriber_id: "sub-1", status: "provisioning" });
    expect(doc.service_metadata.allocated_ips).toEqual(ips);
  });
});

describe("the ServiceMetadata snapshot", () => {
  it("carries the status, the four parts and the timeline of the document", () => {
    const doc = given(happyPath())!;
    expect(snapshotOf(doc)).toStrictEqual({ status: "active", ...doc.service_metadata, timeline: doc.timeline });
  });
});

describe("the rest of the lifecycle", () => {
  const coa = (outcome: string, kind = "coa", error_cause: number | null = null, attempts = 1) =>
    event("RadiusCoaCompleted", { username: "sub-0001@isp", kind, nas_id: outcome === "unknown_nas" ? null : "nas-1", nas_address: outcome === "unknown_nas" ? "10.99.0.1" : null, outcome, error_cause, attempts });

  it("is terminating from SubscriberTerminationRequested until SubscriberArchived", () => {
    const terminating = [...happyPath(), event("SubscriberTerminationRequested", { order_id: "o-4", reason: null })];
    expect(given(terminating)?.status).toBe("terminating");
    expect(given([...terminating, event("SubscriberArchived", { order_id: "o-4" })])?.status).toBe("terminated");
  });

  it("a degraded subscriber stays degraded after a resume", () => {
    const history = [created(), skipped(), ipAllocated(), radius(), onu(), billing(), provisioned(), event("SubscriberSuspended", { order_id: "o-2" })];
    expect(given([...history, event("SubscriberResumed", { order_id: "o-3" })])?.status).toBe("degraded");
  });

  it("records the last CoA next to service_metadata, whose shape stays the seed's", () => {
    const m = coa("ack", "disconnect");
    const doc = given([...happyPath(), m]);
    expect(doc?.radius_coa).toEqual({ kind: "disconnect", outcome: "ack", nas_id: "nas-1", error_cause: null, attempts: 1, at: m.meta.occurred_at });
    expect(Object.keys(doc?.service_metadata ?? {})).toEqual(["network_profile", "allocated_ips", "devices", "radius"]);
    expect(doc?.timeline.at(-1)?.summary).toBe("Disconnect-Request to nas-1: ACK");
  });

  it("a failed CoA degrades an active subscriber and says why; a later ACK clears it", () => {
    const failedCoa = [...happyPath(), coa("timeout", "coa", null, 3)];
    const doc = given(failedCoa);
    expect(doc?.status).toBe("degraded");
    expect(doc?.degraded_reasons).toEqual(["CoA to NAS nas-1 failed (timeout): the session may still run at the old state"]);
    expect(doc?.timeline.at(-1)?.summary).toBe("CoA to nas-1: timeout after 3 attempts");
    const healed = given([...failedCoa, coa("ack")]);
    expect(healed?.status).toBe("active");
    expect(healed?.degraded_reasons).toEqual([]);
  });

  it("a session on an unregistered NAS (unknown_nas) or a request that could not be built (error) leaves the subscriber degraded, unlike no_session", () => {
    const lost = given([...happyPath(), coa("unknown_nas", "disconnect", null, 0)]);
    expect(lost?.status).toBe("degraded");
    expect(lost?.degraded_reasons).toEqual(["CoA to NAS 10.99.0.1 not sent (unknown_nas): NAS 10.99.0.1 is not registered; the session may still run at the old state"]);
    expect(lost?.timeline.at(-1)?.summary).toBe("Disconnect-Request not sent: NAS 10.99.0.1 is not registered");
    expect(given([...happyPath(), coa("error", "coa", null, 0)])?.status).toBe("degraded");
    expect(given([...happyPath(), coa("timeout", "coa", null, 3), coa("unknown_nas", "coa", null, 0)])?.degraded_reasons).toHaveLength(1);
    expect(given([...happyPath(), coa("no_session", "disconnect", null, 0)])?.status).toBe("active");
  });

  it("names the Error-Cause of a NAK", () => {
    expect(given([...happyPath(), coa("nak", "disconnect", 503)])?.timeline.at(-1)?.summary).toBe("Disconnect-Request to nas-1: NAK (Error-Cause 503)");
  });

  it("a failed Disconnect-Request on suspend keeps the status suspended", () => {
    const doc = given([...happyPath(), coa("timeout", "disconnect", null, 3), event("SubscriberSuspended", { order_id: "o-2" })]);
    expect(doc?.status).toBe("suspended");
    expect(doc?.degraded_reasons).toHaveLength(1);
  });

  it("keeps the current plan: set at creation, moved by SubscriberPlanChanged only", () => {
    const requested = [...happyPath(), event("SubscriberPlanChangeRequested", { order_id: "o-5", service_plan_id: "fiber-500", bandwidth_mbps: 500, effective_date: "2026-12-01" })];
    expect(given(requested)?.service_plan_id).toBe("residential_100mbps");
    expect(given([...requested, event("SubscriberPlanChanged", { order_id: "o-5", service_plan_id: "fiber-500" })])?.service_plan_id).toBe("fiber-500");
  });

  it("tells every new event in the timeline with its own sentence", () => {
    const doc = given([
      ...happyPath(),
      event("RadiusAccountSuspended", { username: "sub-0001@isp", mode: "reject" }),
      event("BillingServiceSuspended", { service_id: "svc-1" }),
      event("RadiusAccountResumed", { username: "sub-0001@isp" }),
      event("BillingServiceResumed", { service_id: "svc-1" }),
      event("RadiusPlanChanged", { reverts_order_id: null, username: "sub-0001@isp", service_plan_id: "fiber-500", rate_limit: "500M/500M" }),
      event("BillingPlanChanged", { reverts_order_id: null, service_id: "svc-1", service_plan_id: "fiber-500", effective_date: "2026-12-01" }),
      event("OnuBandwidthChanged", { reverts_order_id: null, onu_id: "onu-123", bandwidth_mbps: 500 }),
      event("BillingServiceTerminated", { service_id: "svc-1" }),
    ]);
    expect(doc?.timeline.slice(-8).map((e) => e.summary)).toEqual([
      "RADIUS account sub-0001@isp suspended (Auth-Type Reject)",
      "Billing service svc-1 suspended",
      "RADIUS account sub-0001@isp resumed",
      "Billing service svc-1 resumed",
      "RADIUS plan of sub-0001@isp changed to fiber-500 (rate limit 500M/500M)",
      "Billing service svc-1 charges plan fiber-500 from 2026-12-01",
      "ONU onu-123 bandwidth changed to 500 Mbps",
      "Billing service svc-1 terminated",
    ]);
  });
});
