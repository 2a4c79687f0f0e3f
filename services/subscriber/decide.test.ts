// Order intake rules: given an order (and the tenant's plan), when it is decided, then these events.
import { describe, expect, it } from "vitest";
import type { EventData } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { decideProvisionOrder, formatSubscriberNumber, subscriberCreated, unanswerable, validateOrder, type Plan, type ProvisionOrder } from "./decide.js";

const plan: Plan = { plan_id: "res-100", name: "Residential 100", bandwidth_mbps: 100 };

function ctxFor(): EventContext {
  let n = 0;
  return { producer: "subscriber", now: () => 1_700_000_000_000, newId: () => `id-${++n}` };
}

function order(fields: Partial<EventData<"ProvisionOrderPlaced">> = {}, tenant = "tenant-a"): ProvisionOrder {
  return {
    type: "ProvisionOrderPlaced",
    meta: { event_id: "evt-order", occurred_at: 1, tenant_id: tenant, subscriber_id: null, correlation_id: "order-1", causation_id: null, producer: "crm" },
    data: {
      order_id: "order-1",
      crm_reference: "CRM-1",
      first_name: "John",
      last_name: "Doe",
      email: "john@example.com",
      phone: "+1234567890",
      service_address: "123 Main St",
      connection_type: "ftth",
      service_plan_id: "res-100",
      bandwidth_mbps: null,
      onu_serial: "ALCL12345678",
      service_vlan: null,
      inner_vlan: null,
      qinq_enabled: null,
      vlan_pool: null,
      circuit_id: null,
      remote_id: null,
      option82_policy: null,
      static_ipv4: null,
      static_ipv6: null,
      delegated_ipv6_prefix: null,
      ipv6_pd_size: null,
      ipv6_assignment_mode: null,
      ipv4_pool: null,
      ipv6_pool: null,
      ipv6_pd_pool: null,
      vlan_id: null,
      ipv4_address: null,
      ipv6_address: null,
      metadata: {},
      ...fields,
    },
  };
}

const codes = (o: ProvisionOrder, p: Plan | null = plan) => validateOrder(o, p).map((r) => `${r.field}:${r.code}`);

describe("order validation: each rule rejects with its reason", () => {
  it.each([
    ["service_vlan 0", { service_vlan: 0 }, "service_vlan:vlan_out_of_range"],
    ["service_vlan 4095", { service_vlan: 4095 }, "service_vlan:vlan_out_of_range"],
    ["inner_vlan 5000 with QinQ", { service_vlan: 100, inner_vlan: 5000, qinq_enabled: true }, "inner_vlan:vlan_out_of_range"],
    ["legacy vlan_id -1", { vlan_id: -1 }, "vlan_id:vlan_out_of_range"],
    ["inner_vlan without QinQ", { service_vlan: 100, inner_vlan: 1000 }, "inner_vlan:inner_vlan_without_qinq"],
    ["inner_vlan with QinQ false", { service_vlan: 100, inner_vlan: 1000, qinq_enabled: false }, "inner_vlan:inner_vlan_without_qinq"],
    ["a C-VLAN without an S-VLAN", { inner_vlan: 1000, qinq_enabled: true }, "inner_vlan:inner_vlan_without_service_vlan"],
    ["a 900 KB first name", { first_name: "x".repeat(900 * 1024) }, "first_name:too_long"],
    ["a 96k-character address", { service_address: "Main Street ".repeat(8000) }, "service_address:too_long"],
    ["a 256-character circuit id", { circuit_id: "c".repeat(256) }, "circuit_id:too_long"],
    ["an order id of 101 characters", { order_id: "o".repeat(101) }, "order_id:too_long"],
    ["51 metadata entries", { metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])) }, "metadata:too_long"],
    ["a metadata value of 501 characters", { metadata: { note: "n".repeat(501) } }, "metadata:too_long"],
    ["unknown option82 policy", { option82_policy: "drop" }, "option82_policy:unknown_option82_policy"],
    ["unknown IPv6 mode", { ipv6_assignment_mode: "magic" }, "ipv6_assignment_mode:unknown_ipv6_mode"],
    ["PD size 47", { ipv6_pd_size: 47 }, "ipv6_pd_size:pd_size_out_of_range"],
    ["PD size 65", { ipv6_pd_size: 65 }, "ipv6_pd_size:pd_size_out_of_range"],
    ["static_ipv4 not IPv4", { static_ipv4: "10.0.1.300" }, "static_ipv4:invalid_ipv4"],
    ["static_ipv4 an IPv6 address", { static_ipv4: "2001:db8::1" }, "static_ipv4:invalid_ipv4"],
    ["legacy ipv4_address malformed", { ipv4_address: "10.1" }, "ipv4_address:invalid_ipv4"],
    ["static_ipv6 malformed", { static_ipv6: "2001:db8::g" }, "static_ipv6:invalid_ipv6"],
    ["legacy ipv6_address an IPv4 address", { ipv6_address: "10.0.0.1" }, "ipv6_address:invalid_ipv6"],
    ["delegated prefix without length", { delegated_ipv6_prefix: "2001:db8:1::" }, "delegated_ipv6_prefix:invalid_ipv6_prefix"],
    ["delegated prefix /40", { delegated_ipv6_prefix: "2001:db8::/40" }, "delegated_ipv6_prefix:invalid_ipv6_prefix"],
    ["delegated prefix /96", { delegated_ipv6_prefix: "2001:db8::/96" }, "delegated_ipv6_prefix:invalid_ipv6_prefix"],
    ["delegated prefix with host bits", { delegated_ipv6_prefix: "2001:db8:1::1/56" }, "delegated_ipv6_prefix:invalid_ipv6_prefix"],
    ["unknown connection type", { connection_type: "carrier-pigeon" }, "connection_type:unknown_connection_type"],
    ["blank first name", { first_name: " " }, "first_name:required"],
    ["blank last name", { last_name: "" }, "last_name:required"],
    ["blank email", { email: "" }, "email:required"],
    ["malformed email", { email: "john.example.com" }, "email:invalid_email"],
    ["blank service address", { service_address: "" }, "service_address:required"],
    ["blank order id", { order_id: "" }, "order_id:required"],
    ["FTTH without ONU serial", { onu_serial: null }, "onu_serial:onu_serial_required"],
    ["bandwidth 0", { bandwidth_mbps: 0 }, "bandwidth_mbps:invalid_bandwidth"],
  ])("given %s, then it is rejected", (_name, fields, expected) => {
    expect(codes(order(fields))).toEqual([expected]);
  });

  it("given a blank tenant, then missing_tenant (and no plan lookup is judged)", () => {
    expect(codes(order({}, " "), null)).toEqual(["tenant_id:missing_tenant"]);
  });

  it("given a plan that is not in the tenant's catalogue, then unknown_plan", () => {
    expect(codes(order({ service_plan_id: "gold" }), null)).toEqual(["service_plan_id:unknown_plan"]);
  });

  it("given a tenant that is not set up (no plan catalogue), then unknown_tenant, not unknown_plan", () => {
    expect(validateOrder(order({}, "nobody"), null, false).map((r) => `${r.field}:${r.code}`)).toEqual(["tenant_id:unknown_tenant"]);
  });

  it("given values far too long, then no reason message quotes more than 60 characters of them", () => {
    const huge = "9".repeat(100_000);
    const reasons = validateOrder(order({ email: huge, static_ipv4: huge, service_plan_id: huge, connection_type: huge }), null);
    expect(reasons.map((r) => r.code)).toEqual(expect.arrayContaining(["too_long", "invalid_email", "invalid_ipv4", "unknown_plan", "unknown_connection_type"]));
    for (const r of reasons) expect(r.message.length).toBeLessThan(200);
  });

  it("given an order id longer than its limit, then it can not be answered on that key (the handler dead-letters it)", () => {
    expect(unanswerable(order({ order_id: "o".repeat(101) }))).toMatch(/order_id is 101 characters long/);
    expect(unanswerable(order({ order_id: "o".repeat(100) }))).toBeNull();
  });

  it("given a non-FTTH order without ONU serial, then it is valid", () => {
    expect(codes(order({ connection_type: "dsl", onu_serial: null }))).toEqual([]);
  });

  it("given every field of the seed's example, then it is valid", () => {
    const seed = order({
      service_vlan: 100,
      inner_vlan: 1000,
      qinq_enabled: true,
      vlan_pool: "residential",
      circuit_id: "OLT1/1/1/1:1",
      remote_id: "FTTH-CPE-12345",
      option82_policy: "log",
      static_ipv4: "10.0.1.100",
      static_ipv6: "2001:db8::1",
      delegated_ipv6_prefix: "2001:db8:1::/56",
      ipv6_pd_size: 56,
      ipv6_assignment_mode: "dual_stack",
      bandwidth_mbps: 100,
    });
    expect(codes(seed)).toEqual([]);
  });
});

describe("rejection: OrderRejected with every reason at once, nothing else", () => {
  it("given an order wrong in many ways, when decided, then one OrderRejected lists them all, keyed by order id", () => {
    const bad = order({
      service_vlan: 5000,
      inner_vlan: 10,
      option82_policy: "sometimes",
      ipv6_assignment_mode: "ipv7",
      ipv6_pd_size: 30,
      static_ipv4: "not-an-ip",
      static_ipv6: "::zz",
      delegated_ipv6_prefix: "2001:db8::/120",
      service_plan_id: "unknown",
      email: "nope",
    });
    const decision = decideProvisionOrder({ order: bad, plan: null, alreadyAccepted: false, tenantKnown: true }, ctxFor());
    expect(decision.kind).toBe("rejected");
    if (decision.kind !== "rejected") return;
    expect(decision.outgoing).toHaveLength(1);
    const [out] = decision.outgoing;
    expect(out?.topic).toBe("crm.order-status.v1");
    expect(out?.key).toBe("order-1");
    expect(out?.message.type).toBe("OrderRejected");
    expect(out?.message.meta).toEqual({
      event_id: "id-1",
      occurred_at: 1_700_000_000_000,
      tenant_id: "tenant-a",
      subscriber_id: null,
      correlation_id: "order-1",
      causation_id: "evt-order",
      producer: "subscriber",
    });
    const data = out?.message.data as EventData<"OrderRejected">;
    expect(data.order_type).toBe("provision");
    expect(data.reasons.map((r) => r.code).sort()).toEqual(
      [
        "vlan_out_of_range",
        "inner_vlan_without_qinq",
        "unknown_option82_policy",
        "unknown_ipv6_mode",
        "pd_size_out_of_range",
        "invalid_ipv4",
        "invalid_ipv6",
        "invalid_ipv6_prefix",
        "unknown_plan",
        "invalid_email",
      ].sort(),
    );
    for (const r of data.reasons) expect(r.message.length).toBeGreaterThan(0);
  });
});

describe("normalisation: legacy keys, precedence and defaults", () => {
  const accept = (fields: Partial<EventData<"ProvisionOrderPlaced">>, p: Plan = plan) => {
    const d = decideProvisionOrder({ order: order(fields), plan: p, alreadyAccepted: false, tenantKnown: true }, ctxFor());
    if (d.kind !== "accepted") throw new Error(`expected accepted, got ${JSON.stringify(d)}`);
    return d.order;
  };

  it("given only legacy keys, then vlan_id→service_vlan, ipv4_address→static_ipv4, ipv6_address→static_ipv6", () => {
    const n = accept({ vlan_id: 100, ipv4_address: "10.0.1.100", ipv6_address: "2001:db8::1" }).network;
    expect([n.service_vlan, n.static_ipv4, n.static_ipv6]).toEqual([100, "10.0.1.100", "2001:db8::1"]);
  });

  it("given both legacy and new keys, then the new keys win", () => {
    const n = accept({ vlan_id: 100, service_vlan: 200, ipv4_address: "10.0.1.100", static_ipv4: "10.0.2.1", ipv6_address: "2001:db8::1", static_ipv6: "2001:db8::2" }).network;
    expect([n.service_vlan, n.static_ipv4, n.static_ipv6]).toEqual([200, "10.0.2.1", "2001:db8::2"]);
  });

  it("given no network settings, then QinQ off, option82 log, IPv6 mode none, bandwidth from the plan", () => {
    const o = accept({});
    expect(o.network).toMatchObject({ qinq_enabled: false, option82_policy: "log", ipv6_assignment_mode: "none", service_vlan: null, static_ipv4: null });
    expect(o.bandwidth_mbps).toBe(100);
  });

  it("given a bandwidth in the order, then it wins over the plan's", () => {
    expect(accept({ bandwidth_mbps: 250 }).bandwidth_mbps).toBe(250);
  });

  it("given IPv6 in non-canonical form and an upper-case connection type, then they are canonicalised", () => {
    const o = accept({ static_ipv6: "2001:DB8:0:0::1", delegated_ipv6_prefix: "2001:DB8:1:0::/56", connection_type: " FTTH " });
    expect([o.network.static_ipv6, o.network.delegated_ipv6_prefix, o.connection_type]).toEqual(["2001:db8::1", "2001:db8:1::/56", "ftth"]);
  });
});

describe("acceptance: SubscriberCreated + OrderAccepted", () => {
  it("given a valid order and new ids, then SubscriberCreated on the lifecycle keyed by subscriber and OrderAccepted keyed by order", () => {
    const ctx = ctxFor();
    const o = order({ vlan_id: 101, metadata: { custom_field: "value" } });
    const d = decideProvisionOrder({ order: o, plan, alreadyAccepted: false, tenantKnown: true }, ctx);
    if (d.kind !== "accepted") throw new Error("expected accepted");
    const out = subscriberCreated(o, d.order, { subscriber_id: "sub-1", subscriber_number: "SUB-000007" }, ctx);
    expect(out.map((x) => [x.message.type, x.topic, x.key])).toEqual([
      ["SubscriberCreated", "subscriber.lifecycle.v1", "sub-1"],
      ["OrderAccepted", "crm.order-status.v1", "order-1"],
    ]);
    const [created, accepted] = out;
    expect(created?.message.meta).toMatchObject({ subscriber_id: "sub-1", tenant_id: "tenant-a", correlation_id: "order-1", causation_id: "evt-order", producer: "subscriber" });
    expect(created?.message.data).toMatchObject({
      order_id: "order-1",
      subscriber_number: "SUB-000007",
      crm_reference: "CRM-1",
      customer: { first_name: "John", last_name: "Doe", email: "john@example.com", phone: "+1234567890" },
      service_plan_id: "res-100",
      bandwidth_mbps: 100,
      onu_serial: "ALCL12345678",
      network: { service_vlan: 101 },
      metadata: { custom_field: "value" },
    });
    expect(accepted?.message.data).toEqual({ order_id: "order-1", order_type: "provision", subscriber_id: "sub-1", subscriber_number: "SUB-000007" });
  });

  it("given the order was already accepted, then nothing is emitted (even if it would now be invalid)", () => {
    expect(decideProvisionOrder({ order: order({ service_vlan: 9999 }), plan, alreadyAccepted: true, tenantKnown: true }, ctxFor())).toEqual({ kind: "duplicate" });
  });

  it("subscriber numbers are SUB- and six digits", () => {
    expect([formatSubscriberNumber(1), formatSubscriberNumber(123456)]).toEqual(["SUB-000001", "SUB-123456"]);
  });
});
