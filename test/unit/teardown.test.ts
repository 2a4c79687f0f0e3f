// Termination order without an orchestrator: given what a service has seen, is it its turn?
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { remainingParts, teardownDue, teardownSteps, tornDown } from "../../shared/teardown.js";
import { network, subscriberCreated } from "../support/story.js";

let n = 0;
const ev = <K extends EventName>(type: K, data: EventData<K>): Message =>
  ({ type, meta: { event_id: `t${++n}`, occurred_at: n, tenant_id: "tenant-a", subscriber_id: "sub-1", correlation_id: "o", causation_id: null, producer: "test" }, data }) as unknown as Message;

const provisioned = [
  subscriberCreated(),
  ev("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: network(), metadata: {} } }),
  ev("IpAllocated", { ips: { ipv4: "100.64.0.5", ipv6: null, ipv6_prefix: null, source: "dynamic" } }),
  ev("RadiusAccountCreated", { username: "u", plan_group: "g" }),
  ev("OnuActivated", { onu_id: "onu-1", onu_serial: "S", olt_id: "olt", pon_port: "0/1/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 }),
  ev("BillingServiceCreated", { service_id: "b-1", service_plan_id: "p", status: "active" }),
  ev("SubscriberProvisioned", { order_id: "o" }),
];
const given = (...events: Message[]): SubscriberView => {
  const v = events.reduce<SubscriberView | null>((acc, m) => evolveView(acc, m), null);
  if (!v) throw new Error("no view");
  return v;
};
const due = (v: SubscriberView) => teardownSteps.filter((s) => teardownDue(v, s));
const terminate = ev("SubscriberTerminationRequested", { order_id: "t", reason: null });

describe("termination order", () => {
  it("a part that shows up after the archive (a profile stored late, its step skipped on timeout) is torn down too", () => {
    const skipped = ev("NetworkProfileSkipped", { reason: "timeout", network: network(), code: "timeout" });
    const lateProfile = ev("NetworkProfileCreated", { profile: { network_profile_id: "np-late", config: network(), metadata: {} } });
    const [created, , ...rest] = provisioned;
    const teardown = [
      terminate,
      ev("RadiusAccountDeleted", { username: "u", reason: "terminated" }),
      ev("OnuDeactivated", { onu_id: "onu-1", onu_serial: "S", reason: "terminated" }),
      ev("IpReleased", { ips: { ipv4: "100.64.0.5", ipv6: null, ipv6_prefix: null, source: "dynamic" }, reason: "terminated" }),
      ev("BillingServiceTerminated", { service_id: "b-1" }),
    ];
    const archived = given(created as Message, skipped, ...rest, ...teardown);
    expect(tornDown(archived)).toBe(true);
    const late = given(created as Message, skipped, ...rest, ...teardown, ev("SubscriberArchived", { order_id: "t" }), lateProfile);
    expect(due(late)).toEqual(["profile"]);
  });

  it("nothing is torn down while the subscriber is active", () => {
    expect(due(given(...provisioned))).toEqual([]);
  });

  it("radius first, then the ONU, the IPs, billing, and the profile last; then archive", () => {
    let v = given(...provisioned, terminate);
    expect(due(v)).toEqual(["radius"]);
    v = evolveView(v, ev("RadiusAccountDeleted", { username: "u", reason: "terminated" })) as SubscriberView;
    expect(due(v)).toEqual(["olt"]);
    v = evolveView(v, ev("OnuDeactivated", { onu_id: "onu-1", onu_serial: "S", reason: "terminated" })) as SubscriberView;
    expect(due(v)).toEqual(["ipam"]);
    v = evolveView(v, ev("IpReleased", { ips: { ipv4: "100.64.0.5", ipv6: null, ipv6_prefix: null, source: "dynamic" }, reason: "terminated" })) as SubscriberView;
    expect(due(v)).toEqual(["billing"]);
    v = evolveView(v, ev("BillingServiceTerminated", { service_id: "b-1" })) as SubscriberView;
    expect(due(v)).toEqual(["profile"]);
    expect(tornDown(v)).toBe(false);
    v = evolveView(v, ev("NetworkProfileDeleted", { network_profile_id: "np-1", soft_deleted: true, reason: "terminated" })) as SubscriberView;
    expect(due(v)).toEqual([]);
    expect(tornDown(v)).toBe(true);
  });

  it("a line without an ONU goes from RADIUS straight to the IPs", () => {
    const noOnu = provisioned.filter((m) => m.type !== "OnuActivated");
    const v = given(...noOnu, terminate, ev("RadiusAccountDeleted", { username: "u", reason: "terminated" }));
    expect(remainingParts(v)).toEqual(["ipam", "billing", "profile"]);
    expect(due(v)).toEqual(["ipam"]);
  });

  it("a rollback's compensations are not a termination", () => {
    const v = given(...provisioned.slice(0, 4), ev("SubscriberProvisioningFailed", { code: null, order_id: "o", step: "olt", reason: "x" }));
    expect(due(v)).toEqual([]);
    expect(tornDown(v)).toBe(false);
  });
});
