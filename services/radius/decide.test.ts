// The radius decisions, as given events / when event / then events.
import { describe, expect, it } from "vitest";
import type { EventData, EventName, FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { EventContext } from "../../shared/messages.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { network as storyNetwork } from "../../test/support/story.js";
import {
  decideAccount,
  decideCompensation,
  describeAccount,
  planProblems,
  planReplyItems,
  replyItems,
  usernameFor,
  type AccountState,
  type PlanConfig,
} from "./decide.js";

const ctx: EventContext = { producer: "radius", now: () => 1_700_000_000_000, newId: () => "evt-new" };
let seq = 0;
const event = <K extends EventName>(type: K, data: EventData<K>, tenant = "acme"): Message<K> =>
  ({
    type,
    meta: { event_id: `evt-${++seq}`, occurred_at: 1, tenant_id: tenant, subscriber_id: "sub-1", correlation_id: "order-1", causation_id: null, producer: "test" },
    data,
  }) as Message<K>;

const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ inner_vlan: null, qinq_enabled: false, ...over });
const ips = (over: Partial<FiberIpAssignment> = {}): FiberIpAssignment => ({ ipv4: "10.0.1.100", ipv6: null, ipv6_prefix: null, source: "dynamic", ...over });

const created = (net = network()) =>
  event("SubscriberCreated", {
    order_id: "order-1",
    subscriber_number: "SUB-000123",
    crm_reference: "crm-1",
    customer: { first_name: "Ada", last_name: "L", email: "ada@example.com", phone: null },
    service_address: "1 Fiber Way",
    connection_type: "ftth",
    service_plan_id: "fiber-100",
    bandwidth_mbps: 100,
    onu_serial: "ALCL00000001",
    network: net,
    metadata: {},
  });
const profileCreated = (net: FiberNetworkConfig) => event("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: net, metadata: {} } });
const ipAllocated = (a = ips()) => event("IpAllocated", { ips: a });
const failed = () => event("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step: "olt", reason: "ONU not found" });

const given = (...events: Message[]): SubscriberView => {
  const view = events.reduce<SubscriberView | null>(evolveView, null);
  if (!view) throw new Error("no view");
  return view;
};
const plan: PlanConfig = { planId: "fiber-100", downloadMbps: 100, uploadMbps: 50 };
const active: AccountState = { username: "sub-000123@acme", status: "active", planGroup: "acme:fiber-100" };

describe("radreply items from the view and the IPs", () => {
  it("a single VLAN gives tag 1 only: Tunnel-Type VLAN, IEEE-802, the S-VLAN", () => {
    expect(replyItems(network({ service_vlan: 100 }), ips())).toEqual([
      { attribute: "Framed-IP-Address", op: ":=", value: "10.0.1.100" },
      { attribute: "Tunnel-Type:1", op: ":=", value: "VLAN" },
      { attribute: "Tunnel-Medium-Type:1", op: ":=", value: "IEEE-802" },
      { attribute: "Tunnel-Private-Group-Id:1", op: ":=", value: "100" },
    ]);
  });

  it("QinQ gives both tags: S-VLAN on tag 1, C-VLAN on tag 2", () => {
    const items = replyItems(network({ service_vlan: 100, inner_vlan: 1000, qinq_enabled: true }), ips());
    expect(items.filter((i) => i.attribute.startsWith("Tunnel-"))).toEqual([
      { attribute: "Tunnel-Type:1", op: ":=", value: "VLAN" },
      { attribute: "Tunnel-Medium-Type:1", op: ":=", value: "IEEE-802" },
      { attribute: "Tunnel-Private-Group-Id:1", op: ":=", value: "100" },
      { attribute: "Tunnel-Type:2", op: ":=", value: "VLAN" },
      { attribute: "Tunnel-Medium-Type:2", op: ":=", value: "IEEE-802" },
      { attribute: "Tunnel-Private-Group-Id:2", op: ":=", value: "1000" },
    ]);
  });

  it("an inner VLAN without QinQ enabled is not sent", () => {
    const items = replyItems(network({ service_vlan: 100, inner_vlan: 1000, qinq_enabled: false }), ips());
    expect(items.some((i) => i.attribute.endsWith(":2"))).toBe(false);
  });

  it("no VLAN: no tunnel attributes", () => {
    expect(replyItems(network({ service_vlan: null }), ips()).map((i) => i.attribute)).toEqual(["Framed-IP-Address"]);
  });

  it("IPv6 address and delegated prefix present: Framed-IPv6-Address and Delegated-IPv6-Prefix, normalised", () => {
    const items = replyItems(network({ service_vlan: null }), ips({ ipv6: "2001:0db8:0000::0001/128", ipv6_prefix: "2001:db8:1:0::/56" }));
    expect(items).toEqual([
      { attribute: "Framed-IP-Address", op: ":=", value: "10.0.1.100" },
      { attribute: "Framed-IPv6-Address", op: ":=", value: "2001:db8::1" },
      { attribute: "Delegated-IPv6-Prefix", op: ":=", value: "2001:db8:1::/56" },
    ]);
  });

  it("IPv6 absent: neither IPv6 attribute", () => {
    const attrs = replyItems(network(), ips({ ipv6: null, ipv6_prefix: null })).map((i) => i.attribute);
    expect(attrs).not.toContain("Framed-IPv6-Address");
    expect(attrs).not.toContain("Delegated-IPv6-Prefix");
  });

  it("an address that is none is poison (invalid), not a business failure", () => {
    expect(() => replyItems(network(), ips({ ipv4: "10.0.1.999" }))).toThrow(PoisonMessageError);
    expect(() => replyItems(network(), ips({ ipv6_prefix: "2001:db8::" }))).toThrow(/ipv6_prefix/);
  });
});

describe("plan group", () => {
  it("the rate limit is Mikrotik UP/DOWN and WISPr in bit/s", () => {
    expect(planReplyItems(plan)).toEqual([
      { attribute: "Mikrotik-Rate-Limit", op: ":=", value: "50M/100M" },
      { attribute: "WISPr-Bandwidth-Max-Down", op: ":=", value: "100000000" },
      { attribute: "WISPr-Bandwidth-Max-Up", op: ":=", value: "50000000" },
    ]);
  });

  it("rates outside 1..4294 Mbit/s (32-bit bit/s) are refused, all reasons at once", () => {
    expect(planProblems({ planId: "p", downloadMbps: 0, uploadMbps: 5000 })).toHaveLength(2);
    expect(planProblems(plan)).toEqual([]);
  });
});

describe("username", () => {
  it("is the lowercased subscriber number at the tenant", () => {
    expect(usernameFor({ subscriber_number: "SUB-000123", tenant_id: "acme" })).toBe("sub-000123@acme");
  });

  it("differs between tenants for the same subscriber number", () => {
    expect(usernameFor({ subscriber_number: "SUB-1", tenant_id: "a" })).not.toBe(usernameFor({ subscriber_number: "SUB-1", tenant_id: "b" }));
  });
});

describe("account creation on IpAllocated", () => {
  it("given the subscriber and its QinQ profile, when IPs are allocated, then the account is created with the profile's VLANs", () => {
    const trigger = ipAllocated(ips({ ipv6: "2001:db8::1", ipv6_prefix: "2001:db8:1::/56" }));
    const view = given(created(), profileCreated(network({ service_vlan: 100, inner_vlan: 1000, qinq_enabled: true })), trigger);
    const d = decideAccount(view, null, plan, trigger, ctx);
    expect(d.kind).toBe("create");
    if (d.kind !== "create") return;
    expect(d.username).toBe("sub-000123@acme");
    expect(d.planGroup).toBe("acme:fiber-100");
    expect(d.reply.map((r) => `${r.attribute}=${r.value}`)).toContain("Tunnel-Private-Group-Id:2=1000");
    expect(d.events).toEqual([
      {
        type: "RadiusAccountCreated",
        meta: { event_id: "evt-new", occurred_at: 1_700_000_000_000, tenant_id: "acme", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: trigger.meta.event_id, producer: "radius" },
        data: { username: "sub-000123@acme", plan_group: "acme:fiber-100" },
      },
    ]);
  });

  it("given no RADIUS plan for the tenant's plan, then RadiusAccountCreationFailed plan_not_configured", () => {
    const trigger = ipAllocated();
    const d = decideAccount(given(created(), trigger), null, null, trigger, ctx);
    expect(d.kind).toBe("fail");
    if (d.kind !== "fail") return;
    expect(d.events[0].type).toBe("RadiusAccountCreationFailed");
    expect(d.events[0].data).toEqual({ code: "plan_not_configured", reason: "no RADIUS plan configured for plan fiber-100 of tenant acme" });
  });

  it("given the account already exists, when IpAllocated comes again, then nothing is emitted", () => {
    const trigger = ipAllocated();
    expect(decideAccount(given(created(), trigger), active, plan, trigger, ctx).kind).toBe("skip");
  });

  it("given provisioning already failed, when IpAllocated arrives late, then no account is created", () => {
    const trigger = ipAllocated();
    expect(decideAccount(given(created(), failed(), trigger), null, plan, trigger, ctx)).toEqual({ kind: "skip", why: "provisioning already failed" });
  });
});

describe("compensation", () => {
  const provisioned = [created(), profileCreated(network()), ipAllocated(), event("RadiusAccountCreated", { username: active.username, plan_group: active.planGroup })];

  it("given the account was created, when provisioning fails with no later step succeeded, then RadiusAccountDeleted rollback", () => {
    const trigger = failed();
    const d = decideCompensation(given(...provisioned, trigger), active, trigger, ctx);
    expect(d.kind).toBe("delete");
    if (d.kind !== "delete") return;
    expect(d.events[0].data).toEqual({ username: "sub-000123@acme", reason: "rollback" });
    expect(d.events[0].meta.causation_id).toBe(trigger.meta.event_id);
  });

  it("given the ONU was activated, when provisioning fails, then radius waits until the ONU is deactivated", () => {
    const onu = event("OnuActivated", { onu_id: "onu-1", onu_serial: "ALCL00000001", olt_id: "olt-1", pon_port: "1/1/1", s_vlan: 100, c_vlan: null, bandwidth_mbps: 100 });
    const f = failed();
    expect(decideCompensation(given(...provisioned, onu, f), active, f, ctx).kind).toBe("skip");
    const undone = event("OnuDeactivated", { onu_id: "onu-1", onu_serial: "ALCL00000001", reason: "rollback" });
    expect(decideCompensation(given(...provisioned, onu, f, undone), active, undone, ctx).kind).toBe("delete");
  });

  it("given the account is already deleted, then a later event emits nothing (idempotent)", () => {
    const f = failed();
    expect(decideCompensation(given(...provisioned, f), { ...active, status: "deleted" }, f, ctx).kind).toBe("skip");
  });

  it("given provisioning did not fail, then nothing is undone", () => {
    const last = provisioned[provisioned.length - 1] as Message;
    expect(decideCompensation(given(...provisioned), active, last, ctx).kind).toBe("skip");
  });

  it("given the failure came before our success, when RadiusAccountCreated arrives, then it is undone", () => {
    const success = event("RadiusAccountCreated", { username: active.username, plan_group: active.planGroup });
    const view = given(created(), ipAllocated(), failed(), success);
    expect(decideCompensation(view, active, success, ctx).kind).toBe("delete");
  });
});

describe("the seed's log line", () => {
  it("names user, IPs, VLAN and PD and nothing secret", () => {
    const { msg } = describeAccount("sub-1@acme", network({ service_vlan: 100, inner_vlan: 1000, qinq_enabled: true }), ips({ ipv6: "2001:db8::1", ipv6_prefix: "2001:db8:1::/56" }));
    expect(msg).toBe("Created RADIUS account: sub-1@acme (IPv4: 10.0.1.100, IPv6: 2001:db8::1, VLAN: 100.1000, IPv6 PD: 2001:db8:1::/56)");
  });
});
