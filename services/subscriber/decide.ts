// Order intake, pure: validate a ProvisionOrderPlaced (every reason at once), map the legacy keys
// (the new keys win), apply the defaults, and build the events of the outcome. The handler looks
// up the tenant's plan and whether the order was already accepted; ids and the clock come in.
import ipaddr from "ipaddr.js";
import type { EventData, FiberCustomer, FiberNetworkConfig, FiberReason, Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import type { Outgoing } from "../../shared/outbox.js";
import { topics } from "../../shared/topics.js";

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
}

type Fields = EventData<"ProvisionOrderPlaced">;

/** Blank means not given. */
const given = (s: string | null): string | null => (s === null || s.trim() === "" ? null : s.trim());
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
  return out;
}

function ipReasons(o: Fields): Reason[] {
  const out: Reason[] = [];
  for (const field of ["static_ipv4", "ipv4_address"] as const) {
    const v = given(o[field]);
    if (v !== null && !ipaddr.IPv4.isValidFourPartDecimal(v)) out.push(reason(field, "invalid_ipv4", `${field} "${v}" is not an IPv4 address`));
  }
  for (const field of ["static_ipv6", "ipv6_address"] as const) {
    const v = given(o[field]);
    if (v !== null && !ipaddr.IPv6.isValid(v)) out.push(reason(field, "invalid_ipv6", `${field} "${v}" is not an IPv6 address`));
  }
  const prefix = given(o.delegated_ipv6_prefix);
  if (prefix !== null) {
    const problem = prefixProblem(prefix);
    if (problem) out.push(reason("delegated_ipv6_prefix", "invalid_ipv6_prefix", `delegated_ipv6_prefix "${prefix}" ${problem}`));
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
    out.push(reason("option82_policy", "unknown_option82_policy", `option82_policy "${policy}" is not one of ${option82Policies.join(", ")}`));
  }
  const mode = given(o.ipv6_assignment_mode);
  if (mode !== null && !isOneOf(ipv6Modes, mode)) {
    out.push(reason("ipv6_assignment_mode", "unknown_ipv6_mode", `ipv6_assignment_mode "${mode}" is not one of ${ipv6Modes.join(", ")}`));
  }
  const pd = o.ipv6_pd_size;
  if (pd !== null && (!Number.isInteger(pd) || pd < pdSizeRange.min || pd > pdSizeRange.max)) {
    out.push(reason("ipv6_pd_size", "pd_size_out_of_range", `ipv6_pd_size ${pd} is outside ${pdSizeRange.min}..${pdSizeRange.max}`));
  }
  return out;
}

function orderReasons(order: ProvisionOrder, plan: Plan | null): Reason[] {
  const o = order.data;
  const out: Reason[] = [];
  const tenant = given(order.meta.tenant_id);
  if (tenant === null) out.push(reason("tenant_id", "missing_tenant", "the order carries no tenant"));
  for (const field of ["order_id", "crm_reference", "first_name", "last_name", "email", "service_address", "service_plan_id"] as const) {
    if (given(o[field]) === null) out.push(reason(field, "required", `${field} is required`));
  }
  const email = given(o.email);
  if (email !== null && !emailPattern.test(email)) out.push(reason("email", "invalid_email", `email "${email}" is not an email address`));
  const connection = o.connection_type.trim().toLowerCase();
  if (!isOneOf(connectionTypes, connection)) {
    out.push(reason("connection_type", "unknown_connection_type", `connection_type "${o.connection_type}" is not one of ${connectionTypes.join(", ")}`));
  }
  if (connection === "ftth" && given(o.onu_serial) === null) out.push(reason("onu_serial", "onu_serial_required", "an FTTH order needs an onu_serial"));
  // The catalogue is per tenant: without a tenant there is no catalogue to look in.
  const planId = given(o.service_plan_id);
  if (tenant !== null && planId !== null && plan === null) {
    out.push(reason("service_plan_id", "unknown_plan", `plan "${planId}" is not in the tenant's plan catalogue`));
  }
  if (o.bandwidth_mbps !== null && (!Number.isInteger(o.bandwidth_mbps) || o.bandwidth_mbps <= 0)) {
    out.push(reason("bandwidth_mbps", "invalid_bandwidth", `bandwidth_mbps ${o.bandwidth_mbps} must be a positive whole number`));
  }
  return [...out, ...vlanReasons(o), ...modeReasons(o), ...ipReasons(o)];
}

/** Every reason the order cannot be carried out; empty when it is valid. */
export const validateOrder = (order: ProvisionOrder, plan: Plan | null): Reason[] => orderReasons(order, plan);

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
export function decideProvisionOrder({ order, plan, alreadyAccepted }: OrderInput, ctx: EventContext): OrderDecision {
  if (alreadyAccepted) return { kind: "duplicate" };
  const reasons = validateOrder(order, plan);
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
