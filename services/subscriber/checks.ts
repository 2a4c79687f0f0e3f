// Checks of an order's content that need nothing but the order, pure: the form of an ONU serial
// and a phone number, characters no field should carry, addresses no subscriber can hold, and
// fields that contradict each other. The intake runs them with its other rules (decide.ts for a
// provision order, decide-order.ts for a lifecycle order), so such an order is refused at once
// instead of failing later at the OLT, ipam or RADIUS after the steps before them ran.
import ipaddr from "ipaddr.js";
import type { EventData, FiberReason } from "../../schemas/generated/events.js";

type Fields = EventData<"ProvisionOrderPlaced">;
type Reason = FiberReason;

const reason = (field: string | null, code: string, message: string): Reason => ({ field, code, message });
const given = (s: string | null): string | null => (s === null || s.trim() === "" ? null : s.trim());
/** A value as a reason message quotes it: never more than 60 characters (as decide.ts's shown; decide.ts imports this file). */
const shown = (v: string): string => (v.length > 60 ? `${v.slice(0, 60)}... (${v.length} characters)` : v);

/**
 * An ONU serial as OLTs report it: letters and digits, 8 to 16 of them. The GPON form (ITU-T
 * G.984.3) is a 4-letter vendor id and 8 hexadecimal digits (ALCL1A2B3C4D), which some OLTs print
 * as 16 hexadecimal digits; the range leaves room for other vendors' forms and the simulated
 * OLT's, and still refuses what no serial is (spaces, punctuation, a sentence).
 */
export const onuSerialPattern = /^[A-Za-z0-9]{8,16}$/;
/** Digits with the usual separators, an optional leading +, at least 3 digits. */
const phonePattern = /^\+?[0-9 ().\-/]+$/;
/** The bandwidth an order may name (Mbps): a 100 Gbit/s line at most. */
export const bandwidthRange = { min: 1, max: 100_000 } as const;

/** C0 and C1 control characters: no name, address or id carries them; they rewrite log lines and terminals. */
const controlChars = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, but line breaks and tabs are allowed (a multi-line postal address). */
const controlCharsButLines = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
/** Bidirectional embeddings, overrides and isolates: they make an id read differently from what it is. */
const bidiControls = /[\u202a-\u202e\u2066-\u2069]/;

/** Fields that identify something (matched, keyed, sent to a device): printable and no bidi controls. */
const identifierFields = ["order_id", "crm_reference", "email", "phone", "connection_type", "service_plan_id", "onu_serial", "vlan_pool", "option82_policy", "ipv6_assignment_mode", "ipv4_pool", "ipv6_pool", "ipv6_pd_pool"] as const;
/** Free text: any script, RTL included, but no control characters. */
const textFields = ["first_name", "last_name", "circuit_id", "remote_id"] as const;

/** Text fields that hold what no field should: control characters anywhere, bidi controls in an identifier. */
export function characterReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  const bad = (field: string, why: string) => out.push(reason(field, "invalid_characters", `${field} ${why}`));
  for (const field of identifierFields) {
    const v = o[field];
    if (typeof v !== "string") continue;
    if (controlChars.test(v)) bad(field, "holds a control character");
    else if (bidiControls.test(v)) bad(field, "holds a bidirectional control character");
  }
  for (const field of textFields) {
    const v = o[field];
    if (typeof v === "string" && controlChars.test(v)) bad(field, "holds a control character");
  }
  if (controlCharsButLines.test(o.service_address)) bad("service_address", "holds a control character other than a line break or tab");
  if (Object.entries(o.metadata).some(([k, v]) => controlChars.test(k) || controlCharsButLines.test(v))) bad("metadata", "holds a control character");
  return out;
}

/** The connection types of the contract other than ftth: the OLT activates no ONU for them (services/olt isFtth). */
const typesWithoutOnu: readonly string[] = ["fttb", "wireless", "dsl", "ethernet"];

/** The ONU serial's form, and whether the connection type has an ONU at all (only FTTH activates one). */
export function onuReasons(o: Fields): Reason[] {
  const serial = given(o.onu_serial);
  if (serial === null) return [];
  const connection = o.connection_type.trim().toLowerCase();
  // An unknown connection type is decide.ts's unknown_connection_type alone.
  if (typesWithoutOnu.includes(connection)) {
    return [reason("onu_serial", "onu_serial_not_applicable", `a ${shown(connection)} line has no ONU to activate; only an FTTH order names an onu_serial`)];
  }
  if (!onuSerialPattern.test(serial)) {
    return [reason("onu_serial", "invalid_onu_serial", `onu_serial "${shown(serial)}" is not an ONU serial (8 to 16 letters and digits)`)];
  }
  return [];
}

export function phoneReasons(o: Fields): Reason[] {
  const phone = given(o.phone);
  if (phone === null) return [];
  const digits = phone.replace(/[^0-9]/g, "").length;
  return phonePattern.test(phone) && digits >= 3 ? [] : [reason("phone", "invalid_phone", `phone "${shown(phone)}" is not a phone number (digits, spaces, + ( ) . - /)`)];
}

/** QinQ means two tags: it needs the C-VLAN (the S-VLAN without one is decide.ts's inner_vlan_without_service_vlan). */
export function qinqReasons(o: Fields): Reason[] {
  return o.qinq_enabled === true && o.inner_vlan === null ? [reason("inner_vlan", "qinq_without_inner_vlan", "qinq_enabled is true but no inner_vlan (C-VLAN) is given")] : [];
}

/** Bandwidth beyond any line: positive-and-whole is decide.ts's (and decide-order.ts's) invalid_bandwidth. */
export function bandwidthTooHigh(field: string, bw: number | null): Reason[] {
  return bw !== null && Number.isInteger(bw) && bw > bandwidthRange.max ? [reason(field, "invalid_bandwidth", `${field} ${bw} is more than ${bandwidthRange.max} Mbps`)] : [];
}

const isIpv4 = (v: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(v);

/** Why no subscriber can hold this address (loopback, multicast, ...), or null. Syntax is checked elsewhere. */
export function unassignable(version: "ipv4" | "ipv6", text: string): string | null {
  if (version === "ipv4") {
    if (!isIpv4(text)) return null;
    const a = ipaddr.IPv4.parse(text);
    const range = a.range();
    if (["unspecified", "broadcast", "multicast", "loopback", "linkLocal"].includes(range)) return `is a ${range} address`;
    if ((a.octets[0] ?? 0) >= 240) return "is in 240.0.0.0/4, reserved for future use";
    return null;
  }
  if (!ipaddr.IPv6.isValid(text)) return null;
  const range = ipaddr.IPv6.parse(text).range();
  return ["unspecified", "loopback", "multicast", "linkLocal", "ipv4Mapped"].includes(range) ? `is a ${range} address` : null;
}

/** Static addresses and prefixes a subscriber can not hold, and a PD size the static prefix contradicts. */
export function staticIpReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  for (const [field, version] of [["static_ipv4", "ipv4"], ["ipv4_address", "ipv4"], ["static_ipv6", "ipv6"], ["ipv6_address", "ipv6"]] as const) {
    const v = given(o[field]);
    const why = v === null ? null : unassignable(version, v);
    if (v !== null && why) out.push(reason(field, "unassignable_ip", `${field} ${shown(v)} ${why}`));
  }
  const prefix = given(o.delegated_ipv6_prefix);
  if (prefix !== null && ipaddr.IPv6.isValidCIDR(prefix)) {
    const [address, length] = ipaddr.IPv6.parseCIDR(prefix);
    const why = unassignable("ipv6", address.toString());
    if (why) out.push(reason("delegated_ipv6_prefix", "unassignable_ip", `delegated_ipv6_prefix ${shown(prefix)} ${why.replace("address", "range")}`));
    // Only between two values each valid on its own (decide.ts pdSizeRange, 48..64): else their own reasons say it.
    const sane = (n: number) => Number.isInteger(n) && n >= 48 && n <= 64;
    if (o.ipv6_pd_size !== null && sane(o.ipv6_pd_size) && sane(length) && o.ipv6_pd_size !== length) {
      out.push(reason("ipv6_pd_size", "pd_size_mismatch", `ipv6_pd_size ${o.ipv6_pd_size} contradicts delegated_ipv6_prefix ${shown(prefix)} (a /${length})`));
    }
  }
  return out;
}

/** Every check of this file for a provision order. */
export const contentReasons = (o: Fields): Reason[] => [
  ...characterReasons(o),
  ...phoneReasons(o),
  ...onuReasons(o),
  ...qinqReasons(o),
  ...bandwidthTooHigh("bandwidth_mbps", o.bandwidth_mbps),
  ...staticIpReasons(o),
];

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date written YYYY-MM-DD (2026-02-30 is not one). */
export function isIsoDate(v: string): boolean {
  const m = isoDate.exec(v);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** A lifecycle order's own checks: its reason's characters, a modify's effective date and bandwidth. */
export function lifecycleContentReasons(d: { readonly reason?: string | null; readonly effective_date?: string | null; readonly bandwidth_mbps?: number | null }): Reason[] {
  const out: Reason[] = [];
  if (typeof d.reason === "string" && controlCharsButLines.test(d.reason)) out.push(reason("reason", "invalid_characters", "reason holds a control character other than a line break or tab"));
  const date = given(d.effective_date ?? null);
  if (date !== null && !isIsoDate(date)) out.push(reason("effective_date", "invalid_effective_date", `effective_date "${shown(date)}" is not a calendar date written YYYY-MM-DD`));
  out.push(...bandwidthTooHigh("bandwidth_mbps", d.bandwidth_mbps ?? null));
  return out;
}
