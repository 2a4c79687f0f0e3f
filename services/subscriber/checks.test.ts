// Checks that need only the order (checks.ts), as the intake answers them: given an order, when it
// is validated (decide.ts validateOrder, decide-order.ts orderReasons), then these reasons.
import { describe, expect, it } from "vitest";
import type { EventData } from "../../schemas/generated/events.js";
import { isIsoDate, onuSerialPattern, unassignable } from "./checks.js";
import { orderReasons } from "./decide-order.js";
import type { LifecycleOrder } from "./decide-order.js";
import { validateOrder, type Plan, type ProvisionOrder } from "./decide.js";

const plan: Plan = { plan_id: "res-100", name: "Residential 100", bandwidth_mbps: 100 };

function order(fields: Partial<EventData<"ProvisionOrderPlaced">> = {}): ProvisionOrder {
  return {
    type: "ProvisionOrderPlaced",
    meta: { event_id: "evt-order", occurred_at: 1, tenant_id: "tenant-a", subscriber_id: null, correlation_id: "order-1", causation_id: null, producer: "crm" },
    data: {
      order_id: "order-1", crm_reference: "CRM-1", first_name: "John", last_name: "Doe", email: "john@example.com", phone: "+1234567890",
      service_address: "123 Main St", connection_type: "ftth", service_plan_id: "res-100", bandwidth_mbps: null, onu_serial: "ALCL12345678",
      service_vlan: 100, inner_vlan: null, qinq_enabled: null, vlan_pool: null, circuit_id: null, remote_id: null, option82_policy: null,
      static_ipv4: null, static_ipv6: null, delegated_ipv6_prefix: null, ipv6_pd_size: null, ipv6_assignment_mode: null,
      ipv4_pool: null, ipv6_pool: null, ipv6_pd_pool: null, vlan_id: null, ipv4_address: null, ipv6_address: null, metadata: {},
      ...fields,
    },
  };
}

const codes = (o: ProvisionOrder) => validateOrder(o, plan).map((r) => `${r.field}:${r.code}`);

describe("a provision order is refused at intake for what it says itself", () => {
  it("the order every case starts from is valid", () => {
    expect(codes(order())).toEqual([]);
  });

  it.each([
    ["an ONU serial that is no serial", { onu_serial: "'; DROP TABLE onus; --" }, "onu_serial:invalid_onu_serial"],
    ["an ONU serial of 7 characters", { onu_serial: "ALCL123" }, "onu_serial:invalid_onu_serial"],
    ["an ONU serial with punctuation", { onu_serial: "ALCL-1234567" }, "onu_serial:invalid_onu_serial"],
    ["an ONU serial of 17 characters", { onu_serial: "414C434C123456789" }, "onu_serial:invalid_onu_serial"],
    ["an ONU serial on a wireless line", { connection_type: "wireless", onu_serial: "ALCL12345678" }, "onu_serial:onu_serial_not_applicable"],
    ["an ONU serial on an FTTB line (only FTTH activates an ONU)", { connection_type: "fttb", onu_serial: "ALCL12345678" }, "onu_serial:onu_serial_not_applicable"],
    ["QinQ without a C-VLAN", { service_vlan: 100, qinq_enabled: true }, "inner_vlan:qinq_without_inner_vlan"],
    ["a phone number with letters", { phone: "call me maybe" }, "phone:invalid_phone"],
    ["a phone number of two digits", { phone: "+1 2" }, "phone:invalid_phone"],
    ["a bandwidth beyond any line", { bandwidth_mbps: 100_001 }, "bandwidth_mbps:invalid_bandwidth"],
    ["a loopback static IPv4", { static_ipv4: "127.0.0.1" }, "static_ipv4:unassignable_ip"],
    ["the unspecified IPv4 address", { static_ipv4: "0.0.0.0" }, "static_ipv4:unassignable_ip"],
    ["the broadcast address", { static_ipv4: "255.255.255.255" }, "static_ipv4:unassignable_ip"],
    ["a multicast IPv4", { ipv4_address: "224.0.0.5" }, "ipv4_address:unassignable_ip"],
    ["a link-local IPv4", { static_ipv4: "169.254.10.1" }, "static_ipv4:unassignable_ip"],
    ["an IPv4 of 240.0.0.0/4", { static_ipv4: "250.1.2.3" }, "static_ipv4:unassignable_ip"],
    ["the IPv6 loopback", { static_ipv6: "::1" }, "static_ipv6:unassignable_ip"],
    ["a link-local IPv6", { static_ipv6: "fe80::1" }, "static_ipv6:unassignable_ip"],
    ["an IPv4-mapped IPv6", { ipv6_address: "::ffff:10.0.0.1" }, "ipv6_address:unassignable_ip"],
    ["a multicast delegated prefix", { delegated_ipv6_prefix: "ff00::/56" }, "delegated_ipv6_prefix:unassignable_ip"],
    ["a PD size that contradicts the static prefix", { delegated_ipv6_prefix: "2001:db8:1::/56", ipv6_pd_size: 60 }, "ipv6_pd_size:pd_size_mismatch"],
    ["a control character in a name (terminal escape)", { first_name: "Bob\u001b[2J" }, "first_name:invalid_characters"],
    ["a line break in the order id", { order_id: "order-1\nforged log line" }, "order_id:invalid_characters"],
    ["a right-to-left override in the CRM reference", { crm_reference: "CRM-\u202e1-MRC" }, "crm_reference:invalid_characters"],
    ["a vertical tab in the address", { service_address: "1 Main St\u000b" }, "service_address:invalid_characters"],
    ["a control character in a metadata value", { metadata: { note: "a\u0007b" } }, "metadata:invalid_characters"],
  ])("%s", (_what, fields, expected) => {
    expect(codes(order(fields))).toEqual([expected]);
  });

  it.each([
    ["a serial in hexadecimal only", { onu_serial: "414C434C12345678" }],
    ["a wireless line without an ONU", { connection_type: "wireless", onu_serial: null }],
    ["QinQ with both tags", { service_vlan: 100, inner_vlan: 1001, qinq_enabled: true }],
    ["a phone with separators", { phone: "+33 (0)1 23-45.67/89" }],
    ["a 100 Gbit/s line", { bandwidth_mbps: 100_000 }],
    ["documentation, private and shared addresses (an ISP's CGNAT)", { static_ipv4: "100.64.0.10", ipv4_address: "10.0.0.1", static_ipv6: "2001:db8::10" }],
    ["a PD size equal to the static prefix's", { delegated_ipv6_prefix: "2001:db8:1::/56", ipv6_pd_size: 56 }],
    ["names in any script, right-to-left and combining marks included", { first_name: "عائشة", last_name: "Zoë Nguyễn 😀" }],
    ["a postal address over several lines", { service_address: "Flat 2\r\n12 Rue des Fibres\n75001 Paris" }],
  ])("%s passes", (_what, fields) => {
    expect(codes(order(fields))).toEqual([]);
  });

  it("every reason is given at once, with the other rules' reasons", () => {
    expect(codes(order({ onu_serial: "x", phone: "?", service_vlan: 5000, static_ipv4: "127.0.0.1" }))).toEqual([
      "service_vlan:vlan_out_of_range",
      "phone:invalid_phone",
      "onu_serial:invalid_onu_serial",
      "static_ipv4:unassignable_ip",
    ]);
  });
});

describe("a lifecycle order is refused for what it says itself, whatever the subscriber", () => {
  const meta = { event_id: "e-1", occurred_at: 1, tenant_id: "tenant-a", subscriber_id: null, correlation_id: "o-1", causation_id: null, producer: "crm" };
  const modify = (d: Partial<EventData<"ModifyOrderPlaced">>): LifecycleOrder => ({
    type: "ModifyOrderPlaced",
    meta,
    data: { order_id: "o-1", subscriber_id: "sub-1", service_plan_id: null, bandwidth_mbps: null, effective_date: null, ...d },
  });
  const suspend = (reason: string): LifecycleOrder => ({ type: "SuspendOrderPlaced", meta, data: { order_id: "o-1", subscriber_id: "sub-1", reason } });
  // No subscriber: the order's own faults are named before unknown_subscriber.
  const reasons = (o: LifecycleOrder) => orderReasons({ order: o, state: null, plan: null }).map((r) => `${r.field}:${r.code}`);

  it.each([
    ["an effective date that is not a date", modify({ effective_date: "tomorrow" }), "effective_date:invalid_effective_date"],
    ["an effective date that does not exist", modify({ effective_date: "2026-02-30" }), "effective_date:invalid_effective_date"],
    ["an effective date in another format", modify({ effective_date: "01/12/2026" }), "effective_date:invalid_effective_date"],
    ["a bandwidth beyond any line", modify({ bandwidth_mbps: 1_000_000 }), "bandwidth_mbps:invalid_bandwidth"],
    ["a control character in a suspension reason", suspend("unpaid\u001b]0;owned\u0007"), "reason:invalid_characters"],
  ])("%s", (_what, o, expected) => {
    expect(reasons(o)).toEqual([expected]);
  });

  it("a well-formed order goes on to the subscriber's checks", () => {
    expect(reasons(modify({ effective_date: "2028-02-29", bandwidth_mbps: 500 }))).toEqual(["subscriber_id:unknown_subscriber"]);
    expect(reasons(suspend("unpaid\ninvoice 42"))).toEqual(["subscriber_id:unknown_subscriber"]);
  });
});

describe("the helpers", () => {
  it("an ONU serial is 8 to 16 letters and digits", () => {
    expect(["ALCL12345678", "HWTCabcdef01", "ALCL0000FAIL", "414c434c12345678", "LIFE1a2b3c1"].every((s) => onuSerialPattern.test(s))).toBe(true);
    expect(["ALCL", "ALCL1234567890ABC", "AL-L12345678", "ALCL 1234567", "ALCL12345678\n", "ALCL1234567\u00e9"].some((s) => onuSerialPattern.test(s))).toBe(false);
  });

  it("calendar dates are checked for their day", () => {
    expect([isIsoDate("2028-02-29"), isIsoDate("2027-02-29"), isIsoDate("2026-13-01"), isIsoDate("2026-1-01")]).toEqual([true, false, false, false]);
  });

  it("an address no subscriber can hold says why; syntax errors are left to the syntax check", () => {
    expect(unassignable("ipv4", "224.0.0.1")).toBe("is a multicast address");
    expect(unassignable("ipv6", "ff02::1")).toBe("is a multicast address");
    expect(unassignable("ipv4", "not an address")).toBeNull();
  });
});
