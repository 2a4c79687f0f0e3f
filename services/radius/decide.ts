// The radius service's decisions. Pure: the view, the account and the plan come in from the
// store, ids and the clock through the EventContext; credentials are generated and hashed by the
// handler, never here (a decision never sees a password).
import ipaddr from "ipaddr.js";
import type { FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { PoisonMessageError } from "../../shared/errors.js";
import { follow, type EventContext } from "../../shared/messages.js";
import { mayCompensate } from "../../shared/progress.js";
import { teardownDue } from "../../shared/teardown.js";
import type { SubscriberView } from "../../shared/subscriber-view.js";

/** One FreeRADIUS check or reply item (radcheck / radreply / radgroupreply row). */
export interface RadiusItem {
  readonly attribute: string;
  readonly op: string;
  readonly value: string;
}

/** A tenant's plan as RADIUS knows it. */
export interface PlanConfig {
  readonly planId: string;
  readonly downloadMbps: number;
  readonly uploadMbps: number;
}

export interface AccountState {
  readonly username: string;
  readonly status: "active" | "suspended" | "deleted";
  readonly planGroup: string;
  /** How it is suspended; null/absent when it is not. */
  readonly suspendMode?: SuspendMode | null;
}

export type SuspendMode = "reject" | "walled_garden";

/** A tenant's suspension policy (reject unless configured). */
export interface SuspensionPolicy {
  readonly mode: SuspendMode;
  readonly walledGardenGroup: string | null;
}

/** RADIUS integer attributes are 32 bit: the bit/s of a WISPr limit must fit. */
export const maxPlanMbps = Math.floor(0xffffffff / 1_000_000);

/** Unique across tenants: the tenant is part of the name. */
export const usernameFor = (view: Pick<SubscriberView, "subscriber_number" | "tenant_id">): string =>
  `${view.subscriber_number.toLowerCase()}@${view.tenant_id}`;

export const planGroupName = (tenantId: string, planId: string): string => `${tenantId}:${planId}`;

/**
 * The tenant's walled-garden group as FreeRADIUS sees it: `<tenant>:wg:<name>`. FreeRADIUS reads
 * radgroupreply by group name alone, so an unscoped name would be shared by every tenant that
 * chose it (or could name another tenant's plan group), and `<tenant>:<name>` could be one of
 * the tenant's own plan groups (`<tenant>:<plan>`). A name given with the tenant's prefix
 * already loses it first.
 */
export function walledGardenGroupName(tenantId: string, name: string): string {
  const scoped = `${tenantId}:wg:`;
  if (name.startsWith(scoped)) return name;
  return scoped + (name.startsWith(`${tenantId}:`) ? name.slice(tenantId.length + 1) : name);
}

/** radgroupreply of a plan: Mikrotik "rx/tx" from the router's side is upload/download. */
export function planReplyItems(plan: PlanConfig): RadiusItem[] {
  return [
    { attribute: "Mikrotik-Rate-Limit", op: ":=", value: `${plan.uploadMbps}M/${plan.downloadMbps}M` },
    { attribute: "WISPr-Bandwidth-Max-Down", op: ":=", value: String(plan.downloadMbps * 1_000_000) },
    { attribute: "WISPr-Bandwidth-Max-Up", op: ":=", value: String(plan.uploadMbps * 1_000_000) },
  ];
}

/** Invalid plan settings, all at once; empty when valid. */
export function planProblems(plan: PlanConfig): string[] {
  const problems: string[] = [];
  if (plan.planId.trim() === "") problems.push("plan id is empty");
  for (const [name, v] of [["download", plan.downloadMbps], ["upload", plan.uploadMbps]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > maxPlanMbps) problems.push(`${name} must be an integer from 1 to ${maxPlanMbps} Mbit/s (got ${v})`);
  }
  return problems;
}

/** The addresses as FreeRADIUS wants them; throws PoisonMessageError for an address that is none. */
export function normaliseIps(ips: FiberIpAssignment): { ipv4: string | null; ipv6: string | null; prefix: string | null } {
  const invalid = (what: string, v: string) => new PoisonMessageError("invalid", `IpAllocated: ${what} ${JSON.stringify(v)} is not valid`);
  let ipv4: string | null = null;
  let ipv6: string | null = null;
  let prefix: string | null = null;
  if (ips.ipv4 !== null) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(ips.ipv4)) throw invalid("ipv4", ips.ipv4);
    ipv4 = ipaddr.IPv4.parse(ips.ipv4).toString();
  }
  if (ips.ipv6 !== null) {
    // An address may come with its length (2001:db8::2/128); Framed-IPv6-Address is the address alone.
    const address = ips.ipv6.split("/")[0] ?? "";
    if (!ipaddr.IPv6.isValid(address)) throw invalid("ipv6", ips.ipv6);
    ipv6 = ipaddr.IPv6.parse(address).toString();
  }
  if (ips.ipv6_prefix !== null) {
    try {
      const [net, len] = ipaddr.IPv6.parseCIDR(ips.ipv6_prefix);
      prefix = `${net.toString()}/${len}`;
    } catch {
      throw invalid("ipv6_prefix", ips.ipv6_prefix);
    }
  }
  return { ipv4, ipv6, prefix };
}

/** radreply of a subscriber: addresses, delegated prefix, and the VLAN (both tags for QinQ). */
export function replyItems(network: FiberNetworkConfig, ips: FiberIpAssignment): RadiusItem[] {
  const { ipv4, ipv6, prefix } = normaliseIps(ips);
  const items: RadiusItem[] = [];
  if (ipv4) items.push({ attribute: "Framed-IP-Address", op: ":=", value: ipv4 });
  if (ipv6) items.push({ attribute: "Framed-IPv6-Address", op: ":=", value: ipv6 });
  if (prefix) items.push({ attribute: "Delegated-IPv6-Prefix", op: ":=", value: prefix });
  const vlanTag = (tag: 1 | 2, vlan: number): RadiusItem[] => [
    { attribute: `Tunnel-Type:${tag}`, op: ":=", value: "VLAN" },
    { attribute: `Tunnel-Medium-Type:${tag}`, op: ":=", value: "IEEE-802" },
    { attribute: `Tunnel-Private-Group-Id:${tag}`, op: ":=", value: String(vlan) },
  ];
  if (network.service_vlan !== null) {
    items.push(...vlanTag(1, network.service_vlan));
    if (network.qinq_enabled && network.inner_vlan !== null) items.push(...vlanTag(2, network.inner_vlan));
  }
  return items;
}

export type AccountDecision =
  | { readonly kind: "skip"; readonly why: string }
  | {
      readonly kind: "create";
      readonly username: string;
      readonly planGroup: string;
      readonly reply: readonly RadiusItem[];
      readonly events: readonly [Message<"RadiusAccountCreated">];
    }
  | { readonly kind: "fail"; readonly events: readonly [Message<"RadiusAccountCreationFailed">] };

/** On IpAllocated (already folded into `view`): create the account, fail for a missing plan, or do nothing. */
export function decideAccount(
  view: SubscriberView,
  account: AccountState | null,
  plan: PlanConfig | null,
  trigger: Message,
  ctx: EventContext,
): AccountDecision {
  if (view.progress.failure) return { kind: "skip", why: "provisioning already failed" };
  if (account) return { kind: "skip", why: `account ${account.username} already ${account.status === "deleted" ? "deleted" : "exists"}` };
  if (!view.ips) return { kind: "skip", why: "no IPs allocated" };
  if (!plan) {
    const reason = `no RADIUS plan configured for plan ${view.service_plan_id} of tenant ${view.tenant_id}`;
    return { kind: "fail", events: [follow(ctx, trigger, "RadiusAccountCreationFailed", { code: "plan_not_configured", reason })] };
  }
  const username = usernameFor(view);
  const planGroup = planGroupName(view.tenant_id, plan.planId);
  return {
    kind: "create",
    username,
    planGroup,
    reply: replyItems(view.network, view.ips),
    events: [follow(ctx, trigger, "RadiusAccountCreated", { username, plan_group: planGroup })],
  };
}

export type CompensationDecision =
  | { readonly kind: "skip" }
  | { readonly kind: "delete"; readonly username: string; readonly events: readonly [Message<"RadiusAccountDeleted">] };

/** After any lifecycle event: undo the account when the rollback reaches our step, once. */
export function decideCompensation(view: SubscriberView, account: AccountState | null, trigger: Message, ctx: EventContext): CompensationDecision {
  if (!mayCompensate(view.progress, "radius") || !account || account.status === "deleted") return { kind: "skip" };
  return {
    kind: "delete",
    username: account.username,
    events: [follow(ctx, trigger, "RadiusAccountDeleted", { username: account.username, reason: "rollback" })],
  };
}

/** The seed's log line, with its fields for structured logs. */
export function describeAccount(username: string, network: FiberNetworkConfig, ips: FiberIpAssignment) {
  const vlan = network.service_vlan === null ? null : network.qinq_enabled && network.inner_vlan !== null ? `${network.service_vlan}.${network.inner_vlan}` : String(network.service_vlan);
  const fields = { username, ipv4: ips.ipv4, ipv6: ips.ipv6, vlan, ipv6_pd: ips.ipv6_prefix };
  const msg = `Created RADIUS account: ${username} (IPv4: ${ips.ipv4 ?? "none"}, IPv6: ${ips.ipv6 ?? "none"}, VLAN: ${vlan ?? "none"}, IPv6 PD: ${ips.ipv6_prefix ?? "none"})`;
  return { fields, msg };
}

// ---- the rest of the lifecycle: suspend, resume, plan change, termination ----------------------

/** An RFC 5176 request to send to the NAS that serves the subscriber (the handler finds the session). */
export interface CoaIntent {
  readonly kind: "disconnect" | "coa";
  /** Extra (non-secret) attributes beyond User-Name / Framed-IP-Address / Acct-Session-Id. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** The check item that makes FreeRADIUS refuse the account. */
export const rejectItem: RadiusItem = { attribute: "Auth-Type", op: ":=", value: "Reject" };

/** The reply attributes a CoA may carry (known to the NAS dictionaries we encode with). */
export const coaAttributes = ["Mikrotik-Rate-Limit", "Mikrotik-Address-List", "Filter-Id", "Session-Timeout"] as const;

export const coaItems = (items: readonly RadiusItem[]): Record<string, string> =>
  Object.fromEntries(items.filter((i) => (coaAttributes as readonly string[]).includes(i.attribute)).map((i) => [i.attribute, i.value]));

export type SuspendDecision =
  | { readonly kind: "skip"; readonly why: string }
  | {
      readonly kind: "suspend";
      readonly username: string;
      readonly mode: SuspendMode;
      /** walled_garden: the group the account moves to. */
      readonly group: string | null;
      readonly coa: CoaIntent;
      readonly events: readonly [Message<"RadiusAccountSuspended">];
    };

/** On SubscriberSuspendRequested: refuse the account (or wall it in) and cut the session, once. */
export function decideSuspend(
  account: AccountState | null,
  policy: SuspensionPolicy,
  walledGardenItems: readonly RadiusItem[],
  trigger: Message<"SubscriberSuspendRequested">,
  ctx: EventContext,
): SuspendDecision {
  if (!account || account.status === "deleted") return { kind: "skip", why: "no RADIUS account" };
  if (account.status === "suspended") return { kind: "skip", why: `account ${account.username} already suspended` };
  const walled = policy.mode === "walled_garden" && policy.walledGardenGroup !== null;
  const mode: SuspendMode = walled ? "walled_garden" : "reject";
  return {
    kind: "suspend",
    username: account.username,
    mode,
    group: walled ? policy.walledGardenGroup : null,
    coa: walled ? { kind: "coa", attributes: coaItems(walledGardenItems) } : { kind: "disconnect", attributes: {} },
    events: [follow(ctx, trigger, "RadiusAccountSuspended", { username: account.username, mode })],
  };
}

export type ResumeDecision =
  | { readonly kind: "skip"; readonly why: string }
  | {
      readonly kind: "resume";
      readonly username: string;
      readonly mode: SuspendMode;
      readonly planGroup: string;
      /** walled_garden: a CoA with the plan's attributes; reject: none (the session was cut). */
      readonly coa: CoaIntent | null;
      readonly events: readonly [Message<"RadiusAccountResumed">];
    };

/** On SubscriberResumeRequested: undo the suspension exactly, once. */
export function decideResume(
  account: AccountState | null,
  planItems: readonly RadiusItem[],
  trigger: Message<"SubscriberResumeRequested">,
  ctx: EventContext,
): ResumeDecision {
  if (account?.status !== "suspended") return { kind: "skip", why: account ? `account ${account.username} is ${account.status}` : "no RADIUS account" };
  const mode = account.suspendMode ?? "reject";
  return {
    kind: "resume",
    username: account.username,
    mode,
    planGroup: account.planGroup,
    coa: mode === "walled_garden" ? { kind: "coa", attributes: coaItems(planItems) } : null,
    events: [follow(ctx, trigger, "RadiusAccountResumed", { username: account.username })],
  };
}

export type PlanChangeDecision =
  | { readonly kind: "skip"; readonly why: string }
  | { readonly kind: "fail"; readonly events: readonly [Message<"RadiusPlanChangeFailed">] }
  | {
      readonly kind: "change";
      readonly username: string;
      readonly planGroup: string;
      /** False while walled in: the group changes on resume. */
      readonly moveGroup: boolean;
      readonly rateLimit: string;
      readonly coa: CoaIntent | null;
      readonly events: readonly [Message<"RadiusPlanChanged">];
    };

/**
 * On SubscriberPlanChangeRequested: move the account to the new plan's group and change the live
 * session's speed. On SubscriberPlanChangeFailed (another step failed it): put the plan kept back,
 * the same way, if this service had moved the account (its group is not the kept plan's).
 */
export function decidePlanChange(
  account: AccountState | null,
  plan: PlanConfig | null,
  trigger: Message<"SubscriberPlanChangeRequested"> | Message<"SubscriberPlanChangeFailed">,
  ctx: EventContext,
): PlanChangeDecision {
  const planId = trigger.data.service_plan_id;
  const reverts = trigger.type === "SubscriberPlanChangeFailed" ? trigger.data.order_id : null;
  if (reverts !== null) {
    if (!account || account.status === "deleted") return { kind: "skip", why: "no RADIUS account: nothing to put back" };
    if (account.planGroup === planGroupName(trigger.meta.tenant_id, planId)) return { kind: "skip", why: "the account kept its plan: nothing to put back" };
  }
  if (!account || account.status === "deleted") {
    return {
      kind: "fail",
      events: [follow(ctx, trigger, "RadiusPlanChangeFailed", { username: account?.username ?? "", service_plan_id: planId, code: "no_account", reason: "the subscriber has no RADIUS account" })],
    };
  }
  if (!plan) {
    const reason = `no RADIUS plan configured for plan ${planId} of tenant ${trigger.meta.tenant_id}`;
    return { kind: "fail", events: [follow(ctx, trigger, "RadiusPlanChangeFailed", { username: account.username, service_plan_id: planId, code: "plan_not_configured", reason })] };
  }
  const planGroup = planGroupName(trigger.meta.tenant_id, plan.planId);
  const items = planReplyItems(plan);
  const rateLimit = items[0]?.value ?? "";
  const walled = account.status === "suspended" && account.suspendMode === "walled_garden";
  return {
    kind: "change",
    username: account.username,
    planGroup,
    moveGroup: !walled,
    rateLimit,
    coa: account.status === "active" ? { kind: "coa", attributes: coaItems(items) } : null,
    events: [follow(ctx, trigger, "RadiusPlanChanged", { username: account.username, service_plan_id: plan.planId, rate_limit: rateLimit, reverts_order_id: reverts })],
  };
}

export type TerminationDecision =
  | { readonly kind: "skip" }
  | { readonly kind: "delete"; readonly username: string; readonly coa: CoaIntent; readonly events: readonly [Message<"RadiusAccountDeleted">] };

/** After any lifecycle event: when termination reaches radius (first step), delete the account and cut the session, once. */
export function decideTermination(view: SubscriberView, account: AccountState | null, trigger: Message, ctx: EventContext): TerminationDecision {
  if (!teardownDue(view, "radius") || !account || account.status === "deleted") return { kind: "skip" };
  return {
    kind: "delete",
    username: account.username,
    coa: { kind: "disconnect", attributes: {} },
    events: [follow(ctx, trigger, "RadiusAccountDeleted", { username: account.username, reason: "terminated" })],
  };
}
