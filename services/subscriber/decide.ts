// Order intake, pure: validate a ProvisionOrderPlaced (every reason at once), map the legacy keys
// (the new keys win), apply the defaults, and build the events of the outcome. The handler looks
// up the tenant's plan and whether the order was already accepted; ids and the clock come in.
import ipaddr from "ipaddr.js";
import type { EventData, FiberCustomer, FiberNetworkConfig, FiberReason, Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import type { Outgoing } from "../../shared/outbox.js";
import { topics } from "../../shared/topics.js";
import { contentReasons } from "./checks.js";

export type ProvisionOrder = Message<"ProvisionOrderPlaced">;
export type Reason = FiberReason;

export interface Plan {
  readonly plan_id: string;
  readonly name: string;
  readonly bandwidth_mbps: number;
}

export const connectionTypes = ["ftth", "fttb", "wireless", "dsl", "ethernet"] as const;
export const option82Policies = ["enforce", "log", "ignore"] as const;
export const ipv6Modes = ["none", "slaac", "stateful", "pd", "dual_stack"] as const;
export const vlanRange = { min: 1, max: 4094 } as const;
export const pdSizeRange = { min: 48, max: 64 } as const;

/** A valid order after legacy-key mapping and defaults: what SubscriberCreated carries. */
export interface AcceptedOrder {
  readonly order_id: string;
  readonly crm_reference: string;
  readonly customer: FiberCustomer;
  readonly service_address: string;
  readonly connection_type: string;
  readonly service_plan_id: string;
  readonly bandwidth_mbps: number;
  readonly onu_serial: string | null;
  readonly network: FiberNetworkConfig;
  readonly metadata: Readonly<Record<string, string>>;
}

export type OrderDecision =
  | { readonly kind: "duplicate" }
  | { readonly kind: "rejected"; readonly reasons: readonly Reason[]; readonly outgoing: readonly Outgoing[] }
  | { readonly kind: "accepted"; readonly order: AcceptedOrder };

export interface OrderInput {
  readonly order: ProvisionOrder;
  /** The tenant's plan named by the order, or null when the catalogue has none. */
  readonly plan: Plan | null;
  /** True when (tenant, order_id) already has a subscriber. */
  readonly alreadyAccepted: boolean;
  /** Whether the tenant is set up here (has a plan catalogue); true when a plan was found. */
  readonly tenantKnown: boolean;
}

type Fields = EventData<"ProvisionOrderPlaced">;

/** Blank means not given. */
const given = (s: string | null): string | null => (s === null || s.trim() === "" ? null : s.trim());

/**
 * The longest value each text field may have (characters). A longer one is refused at intake
 * (`too_long`): it would be stored, copied into every lifecycle event and sent to RADIUS, the
 * OLT and billing (a 900 KB first name made a 900 KB SubscriberCreated, close to Kafka's 1 MB).
 * Option 82's circuit and remote ids are at most 255 bytes on the wire.
 */
export const fieldLimits = {
  order_id: 100,
  crm_reference: 100,
  first_name: 100,
  last_name: 100,
  email: 254,
  phone: 32,
  service_address: 500,
  connection_type: 16,
  service_plan_id: 64,
  onu_serial: 64,
  vlan_pool: 64,
  circuit_id: 255,
  remote_id: 255,
  option82_policy: 16,
  static_ipv4: 45,
  static_ipv6: 45,
  delegated_ipv6_prefix: 50,
  ipv6_assignment_mode: 16,
  ipv4_pool: 64,
  ipv6_pool: 64,
  ipv6_pd_pool: 64,
  ipv4_address: 45,
  ipv6_address: 45,
} as const satisfies Partial<Record<keyof Fields, number>>;
/** The order's metadata map: entries, and the length of each key and value. */
export const metadataLimits = { entries: 50, key: 64, value: 500 } as const;

/** A value as a reason message quotes it: never more than 60 characters of it. */
export const shown = (v: string): string => (v.length > 60 ? `${v.slice(0, 60)}... (${v.length} characters)` : v);

/**
 * Why no answer can be given on the order's own key, or null: an order id longer than its limit
 * would be the key and a field of the OrderRejected, which could outgrow Kafka's limit. Such an
 * order goes to the DLQ instead (the handler makes it poison).
 */
export const unanswerable = (order: { readonly data: { readonly order_id: string } }): string | null => {
  const id = order.data.order_id;
  return id.length > fieldLimits.order_id ? `order_id is ${id.length} characters long; at most ${fieldLimits.order_id} are accepted` : null;
};

function lengthReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  for (const [field, max] of Object.entries(fieldLimits) as Array<[keyof typeof fieldLimits, number]>) {
    const v = o[field];
    if (typeof v === "string" && v.length > max) out.push(reason(field, "too_long", `${field} is ${v.length} characters long; at most ${max} are accepted`));
  }
  const entries = Object.entries(o.metadata);
  if (entries.length > metadataLimits.entries) out.push(reason("metadata", "too_long", `metadata has ${entries.length} entries; at most ${metadataLimits.entries} are accepted`));
  else if (entries.some(([k, v]) => k.length > metadataLimits.key || v.length > metadataLimits.value)) {
    out.push(reason("metadata", "too_long", `metadata keys are at most ${metadataLimits.key} characters and values at most ${metadataLimits.value}`));
  }
  return out;
}
const reason = (field: string | null, code: string, message: string): Reason => ({ field, code, message });
const isOneOf = <T extends string>(list: readonly T[], v: string): v is T => (list as readonly string[]).includes(v);
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function vlanReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  for (const field of ["service_vlan", "inner_vlan", "vlan_id"] as const) {
    const v = o[field];
    if (v !== null && (!Number.isInteger(v) || v < vlanRange.min || v > vlanRange.max)) {
      out.push(reason(field, "vlan_out_of_range", `${field} ${v} is outside ${vlanRange.min}..${vlanRange.max}`));
    }
  }
  if (o.inner_vlan !== null && o.qinq_enabled !== true) {
    out.push(reason("inner_vlan", "inner_vlan_without_qinq", "inner_vlan is set but qinq_enabled is not true"));
  }
  // A C-VLAN rides inside an S-VLAN: without one the OLT refuses the flow, after every step before it ran.
  if (o.inner_vlan !== null && o.service_vlan === null && o.vlan_id === null) {
    out.push(reason("inner_vlan", "inner_vlan_without_service_vlan", "inner_vlan is set but no service_vlan (S-VLAN) is"));
  }
  return out;
}

function ipReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  for (const field of ["static_ipv4", "ipv4_address"] as const) {
    const v = given(o[field]);
    if (v !== null && !ipaddr.IPv4.isValidFourPartDecimal(v)) out.push(reason(field, "invalid_ipv4", `${field} "${shown(v)}" is not an IPv4 address`));
  }
  for (const field of ["static_ipv6", "ipv6_address"] as const) {
    const v = given(o[field]);
    if (v !== null && !ipaddr.IPv6.isValid(v)) out.push(reason(field, "invalid_ipv6", `${field} "${shown(v)}" is not an IPv6 address`));
  }
  const prefix = given(o.delegated_ipv6_prefix);
  if (prefix !== null) {
    const problem = prefixProblem(prefix);
    if (problem) out.push(reason("delegated_ipv6_prefix", "invalid_ipv6_prefix", `delegated_ipv6_prefix "${shown(prefix)}" ${problem}`));
  }
  return out;
}

function prefixProblem(prefix: string): string | null {
  if (!ipaddr.IPv6.isValidCIDR(prefix)) return "is not an IPv6 prefix in CIDR form";
  const [address, length] = ipaddr.IPv6.parseCIDR(prefix);
  if (length < pdSizeRange.min || length > pdSizeRange.max) return `has length /${length}, outside ${pdSizeRange.min}..${pdSizeRange.max}`;
  if (ipaddr.IPv6.networkAddressFromCIDR(prefix).toString() !== address.toString()) return "has host bits set";
  return null;
}

function modeReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  const policy = given(o.option82_policy);
  if (policy !== null && !isOneOf(option82Policies, policy)) {
    out.push(reason("option82_policy", "unknown_option82_policy", `option82_policy "${shown(policy)}" is not one of ${option82Policies.join(", ")}`));
  }
  const mode = given(o.ipv6_assignment_mode);
  if (mode !== null && !isOneOf(ipv6Modes, mode)) {
    out.push(reason("ipv6_assignment_mode", "unknown_ipv6_mode", `ipv6_assignment_mode "${shown(mode)}" is not one of ${ipv6Modes.join(", ")}`));
  }
  const pd = o.ipv6_pd_size;
  if (pd !== null && (!Number.isInteger(pd) || pd < pdSizeRange.min || pd > pdSizeRange.max)) {
    out.push(reason("ipv6_pd_size", "pd_size_out_of_range", `ipv6_pd_size ${pd} is outside ${pdSizeRange.min}..${pdSizeRange.max}`));
  }
  return out;
}

function orderReasons(order: ProvisionOrder, plan: Plan | null, tenantKnown: boolean): Reason[] {
  const o = order.data;
  const out: Reason[] = [];
  const tenant = given(order.meta.tenant_id);
  if (tenant === null) out.push(reason("tenant_id", "missing_tenant", "the order carries no tenant"));
  else if (!tenantKnown) out.push(reason("tenant_id", "unknown_tenant", `tenant "${shown(tenant)}" is not set up here (it has no plan catalogue)`));
  for (const field of ["order_id", "crm_reference", "first_name", "last_name", "email", "service_address", "service_plan_id"] as const) {
    if (given(o[field]) === null) out.push(reason(field, "required", `${field} is required`));
  }
  const email = given(o.email);
  if (email !== null && !emailPattern.test(email)) out.push(reason("email", "invalid_email", `email "${shown(email)}" is not an email address`));
  const connection = o.connection_type.trim().toLowerCase();
  if (!isOneOf(connectionTypes, connection)) {
    out.push(reason("connection_type", "unknown_connection_type", `connection_type "${shown(o.connection_type)}" is not one of ${connectionTypes.join(", ")}`));
  }
  if (connection === "ftth" && given(o.onu_serial) === null) out.push(reason("onu_serial", "onu_serial_required", "an FTTH order needs an onu_serial"));
  // The catalogue is per tenant: without a tenant there is no catalogue to look in.
  const planId = given(o.service_plan_id);
  if (tenant !== null && tenantKnown && planId !== null && plan === null) {
    out.push(reason("service_plan_id", "unknown_plan", `plan "${shown(planId)}" is not in the tenant's plan catalogue`));
  }
  if (o.bandwidth_mbps !== null && (!Number.isInteger(o.bandwidth_mbps) || o.bandwidth_mbps <= 0)) {
    out.push(reason("bandwidth_mbps", "invalid_bandwidth", `bandwidth_mbps ${o.bandwidth_mbps} must be a positive whole number`));
  }
  return [...lengthReasons(o), ...out, ...vlanReasons(o), ...modeReasons(o), ...ipReasons(o), ...contentReasons(o)];
}

/** Every reason the order cannot be carried out; empty when it is valid. */
export const validateOrder = (order: ProvisionOrder, plan: Plan | null, tenantKnown = true): Reason[] => orderReasons(order, plan, tenantKnown);

const canonicalIpv6 = (v: string | null): string | null => (v === null ? null : ipaddr.IPv6.parse(v).toString());
const canonicalPrefix = (v: string | null): string | null => {
  if (v === null) return null;
  const [address, length] = ipaddr.IPv6.parseCIDR(v);
  return `${address.toString()}/${length}`;
};

/** Legacy keys mapped (the new keys win) and defaults applied. Only for a valid order. */
export function normalise(o: Fields, plan: Plan): AcceptedOrder {
  const network: FiberNetworkConfig = {
    service_vlan: o.service_vlan ?? o.vlan_id,
    inner_vlan: o.inner_vlan,
    qinq_enabled: o.qinq_enabled ?? false,
    vlan_pool: given(o.vlan_pool),
    circuit_id: given(o.circuit_id),
    remote_id: given(o.remote_id),
    option82_policy: given(o.option82_policy) ?? "log",
    static_ipv4: given(o.static_ipv4) ?? given(o.ipv4_address),
    static_ipv6: canonicalIpv6(given(o.static_ipv6) ?? given(o.ipv6_address)),
    delegated_ipv6_prefix: canonicalPrefix(given(o.delegated_ipv6_prefix)),
    ipv6_pd_size: o.ipv6_pd_size,
    ipv6_assignment_mode: given(o.ipv6_assignment_mode) ?? "none",
    ipv4_pool: given(o.ipv4_pool),
    ipv6_pool: given(o.ipv6_pool),
    ipv6_pd_pool: given(o.ipv6_pd_pool),
  };
  return {
    order_id: o.order_id.trim(),
    crm_reference: o.crm_reference.trim(),
    customer: { first_name: o.first_name.trim(), last_name: o.last_name.trim(), email: o.email.trim(), phone: given(o.phone) },
    service_address: o.service_address.trim(),
    connection_type: o.connection_type.trim().toLowerCase(),
    service_plan_id: plan.plan_id,
    bandwidth_mbps: o.bandwidth_mbps ?? plan.bandwidth_mbps,
    onu_serial: given(o.onu_serial),
    network,
    metadata: o.metadata,
  };
}

/** Duplicate (nothing to do), rejected (OrderRejected with every reason) or accepted. */
export function decideProvisionOrder({ order, plan, alreadyAccepted, tenantKnown }: OrderInput, ctx: EventContext): OrderDecision {
  if (alreadyAccepted) return { kind: "duplicate" };
  const reasons = validateOrder(order, plan, tenantKnown || plan !== null);
  if (reasons.length > 0 || plan === null) {
    const rejected = follow(ctx, order, "OrderRejected", { order_id: order.data.order_id, order_type: "provision", reasons });
    return { kind: "rejected", reasons, outgoing: [{ message: rejected, topic: topics.orderStatus, key: order.data.order_id }] };
  }
  return { kind: "accepted", order: normalise(order.data, plan) };
}

export interface NewSubscriber {
  readonly subscriber_id: string;
  readonly subscriber_number: string;
}

/** SubscriberCreated on the lifecycle (key: subscriber id) and OrderAccepted to the CRM (key: order id). */
export function subscriberCreated(order: ProvisionOrder, accepted: AcceptedOrder, ids: NewSubscriber, ctx: EventContext): Outgoing[] {
  const sub = { subscriber_id: ids.subscriber_id };
  const created = follow(ctx, order, "SubscriberCreated", { ...accepted, subscriber_number: ids.subscriber_number }, sub);
  const acceptedMsg = follow(
    ctx,
    order,
    "OrderAccepted",
    { order_id: accepted.order_id, order_type: "provision", subscriber_id: ids.subscriber_id, subscriber_number: ids.subscriber_number },
    sub,
  );
  return [
    { message: created, topic: topics.lifecycle, key: ids.subscriber_id },
    { message: acceptedMsg, topic: topics.orderStatus, key: accepted.order_id },
  ];
}

/** SUB-000001: the per-tenant sequence number, zero-padded to six digits. */
export const formatSubscriberNumber = (n: number): string => `SUB-${String(n).padStart(6, "0")}`;
