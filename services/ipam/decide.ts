// The pure decisions of ipam: what a subscriber gets and from where (static IPs of the profile,
// then static IPs of the order, then the tenant's pools), which pool serves a dynamic need, where
// a static lies (a pool open to statics, outside its reserved ranges), and when to give the
// addresses back. The handler loads state, pools and held allocations, asks
// these functions, and carries out the plan in the store.
import type { FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import { evolveProgress, initialProgress, mayCompensate, type Progress } from "../../shared/progress.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { teardownDue } from "../../shared/teardown.js";
import { AddressError, addressToIndex, canonicalStatic, geometry, overlaps, type Family, type IndexRange } from "./domain/addresses.js";

export type Source = "network_profile" | "order_static" | "dynamic";
export type Trigger = Message<"NetworkProfileCreated" | "NetworkProfileSkipped">;

/** What ipam keeps per subscriber: the shared view, provisioning progress, and whether it is being terminated. */
export interface IpamState {
  readonly view: SubscriberView | null;
  /** Kept beside the view, so progress is known even for a subscriber whose SubscriberCreated we never saw. */
  readonly progress: Progress;
  readonly terminating: boolean;
}

export const initialState: IpamState = { view: null, progress: initialProgress, terminating: false };

/** What ipam keeps beside the shared view (the runtime folds and stores the view). */
export type IpamOwn = Omit<IpamState, "view">;
export const initialOwn: IpamOwn = { progress: initialProgress, terminating: false };

export function evolveOwn(own: IpamOwn, m: Message): IpamOwn {
  return { progress: evolveProgress(own.progress, m), terminating: own.terminating || m.type === "SubscriberTerminationRequested" };
}

export function evolve(state: IpamState, m: Message): IpamState {
  return { view: evolveView(state.view, m), ...evolveOwn(state, m) };
}

/**
 * What a pool is for: `dynamic` units handed out by its cursor only, `static` units bound as
 * statics only (a business customer's own range), `both` (the default) either: the cursor steps
 * over the units bound as statics.
 */
export const poolUsages = ["dynamic", "static", "both"] as const;
export type PoolUsage = (typeof poolUsages)[number];

export interface PoolInfo {
  readonly id: string;
  readonly name: string;
  readonly family: Family;
  readonly cidr: string;
  readonly gateway: string | null;
  readonly delegatedLength: number | null;
  readonly isDefault: boolean;
  readonly usage: PoolUsage;
  /** Units never handed to a subscriber, dynamic or static (the gateway's among them), with the operator's label. */
  readonly reserved: readonly (IndexRange & { readonly label: string })[];
}

/** An address or prefix bound to the subscriber. */
export interface Held {
  readonly family: Family;
  readonly address: string;
  readonly source: Source;
}

export interface Failure {
  readonly code: "no_pool" | "pool_exhausted" | "static_ip_in_use" | "invalid_static_ip" | "static_ip_outside_pools" | "static_ip_reserved" | "static_ip_in_dynamic_pool";
  readonly reason: string;
}

export type PlanItem =
  | {
      readonly family: Family;
      readonly kind: "static";
      readonly address: string;
      readonly source: Exclude<Source, "dynamic">;
      /** The pool it lies in and its unit index there (a released static below the cursor goes on the free list). */
      readonly poolId: string;
      readonly idx: bigint;
    }
  | { readonly family: Family; readonly kind: "dynamic"; readonly pool: PoolInfo };

export type Plan =
  | { readonly kind: "allocate"; readonly items: readonly PlanItem[]; readonly source: Source }
  | { readonly kind: "fail"; readonly failure: Failure }
  | { readonly kind: "nothing"; readonly why: string };

/** What a subscriber gets, by IPv6 assignment mode; null for a mode the contract does not know. */
export function familiesFor(mode: string): Family[] | null {
  switch (mode) {
    case "none":
      return ["ipv4"];
    case "slaac":
    case "stateful":
      return ["ipv4", "ipv6"];
    case "pd":
      return ["ipv4", "ipv6_pd"];
    case "dual_stack":
      return ["ipv4", "ipv6", "ipv6_pd"];
    default:
      return null;
  }
}

const staticOf = (n: FiberNetworkConfig): Partial<Record<Family, string>> => {
  const out: Partial<Record<Family, string>> = {};
  if (n.static_ipv4) out.ipv4 = n.static_ipv4;
  if (n.static_ipv6) out.ipv6 = n.static_ipv6;
  if (n.delegated_ipv6_prefix) out.ipv6_pd = n.delegated_ipv6_prefix;
  return out;
};

/** Priority: static IPs of the profile, then static IPs of the order; null when neither has any. */
export function chooseStatics(
  profile: FiberNetworkConfig | null,
  order: FiberNetworkConfig | null,
): { source: Exclude<Source, "dynamic">; statics: Partial<Record<Family, string>> } | null {
  if (profile && Object.keys(staticOf(profile)).length > 0) return { source: "network_profile", statics: staticOf(profile) };
  if (order && Object.keys(staticOf(order)).length > 0) return { source: "order_static", statics: staticOf(order) };
  return null;
}

const label: Record<Family, string> = { ipv4: "IPv4", ipv6: "IPv6", ipv6_pd: "IPv6 PD" };
const poolNameOf = (n: FiberNetworkConfig, f: Family): string | null =>
  f === "ipv4" ? n.ipv4_pool : f === "ipv6" ? n.ipv6_pool : n.ipv6_pd_pool;

/** The pool for a dynamic need: by name when the network names one, else the tenant's default of that kind. */
export function choosePool(family: Family, network: FiberNetworkConfig, pools: readonly PoolInfo[]): PoolInfo | Failure {
  const ofKind = pools.filter((p) => p.family === family && p.usage !== "static");
  const name = poolNameOf(network, family);
  const pdSize = family === "ipv6_pd" ? network.ipv6_pd_size : null;
  if (name) {
    const named = ofKind.find((p) => p.name === name);
    if (!named) {
      const forStatics = pools.some((p) => p.family === family && p.name === name);
      return { code: "no_pool", reason: forStatics ? `${label[family]} pool '${name}' is for static addresses only` : `no ${label[family]} pool named '${name}' for this tenant` };
    }
    if (pdSize !== null && named.delegatedLength !== pdSize) {
      return { code: "no_pool", reason: `pool '${name}' delegates /${named.delegatedLength}, the profile asks for /${pdSize}` };
    }
    return named;
  }
  if (pdSize !== null) {
    const fitting = ofKind.filter((p) => p.delegatedLength === pdSize).sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name));
    return fitting[0] ?? { code: "no_pool", reason: `no IPv6 PD pool delegating /${pdSize} for this tenant` };
  }
  return ofKind.find((p) => p.isDefault) ?? { code: "no_pool", reason: `no default ${label[family]} pool for this tenant` };
}

const isFailure = (x: object): x is Failure => "code" in x;

const asCidr = (family: Family, address: string): string => (family === "ipv6_pd" ? address : `${address}/${family === "ipv4" ? 32 : 128}`);

/**
 * Why a static address or prefix can not be bound where it lies, or null. Inside a pool it must
 * be one of the pool's units: not the network or broadcast address of an IPv4 pool, not the
 * subnet-router anycast address of an IPv6 one, and a delegated prefix exactly one unit of a PD
 * pool (a /60 inside a /56 unit, or a /48 holding units, would overlap what the pool hands out).
 * A delegated prefix may not overlap an IPv6 address pool at all.
 */
export function staticPlacementProblem(family: Family, address: string, pools: readonly PoolInfo[]): string | null {
  const version = family === "ipv4" ? "ipv4" : "ipv6";
  const mine = asCidr(family, address);
  for (const p of pools) {
    const pVersion = p.family === "ipv4" ? "ipv4" : "ipv6";
    if (pVersion !== version || !overlaps(version, mine, p.cidr)) continue;
    if (family === "ipv6_pd" && p.family === "ipv6") return `overlaps the IPv6 address pool '${p.name}' (${p.cidr})`;
    if (family !== "ipv6_pd" && p.family === "ipv6_pd") continue; // an address inside a delegated range is the PD pool's concern only as a prefix
    if (p.family !== family) continue;
    const g = geometry(p.family, p.cidr, p.delegatedLength);
    const idx = addressToIndex(g, address);
    if (idx === null) return `overlaps pool '${p.name}' (${p.cidr}) without being one of its /${g.unitLength} units`;
    if (idx < g.first || idx >= g.end) {
      return family === "ipv4" ? `is the ${idx < g.first ? "network" : "broadcast"} address of pool '${p.name}' (${p.cidr})` : `is the subnet-router anycast address of pool '${p.name}' (${p.cidr})`;
    }
  }
  return null;
}

/**
 * Where a static may be bound: one unit of a pool of its own family (IPv4 in an IPv4 pool, an
 * IPv6 address in an IPv6 pool, a delegated prefix in a PD pool), a pool open to statics, and not
 * in a reserved range. Anything else is refused with its own code, so the CRM knows what to fix
 * (8.8.8.8 in no pool, a static pool still to register, an address kept for the network).
 */
export function placeStatic(family: Family, address: string, pools: readonly PoolInfo[]): { readonly pool: PoolInfo; readonly idx: bigint } | Failure {
  const what = `static ${label[family]} ${address}`;
  for (const p of pools) {
    if (p.family !== family) continue;
    const g = geometry(p.family, p.cidr, p.delegatedLength);
    const idx = addressToIndex(g, address);
    if (idx === null || idx < g.first || idx >= g.end) continue;
    if (p.usage === "dynamic") return { code: "static_ip_in_dynamic_pool", reason: `${what} lies in pool '${p.name}' (${p.cidr}), which is for dynamic allocation only` };
    const kept = p.reserved.find((r) => idx >= r.first && idx <= r.last);
    if (kept) return { code: "static_ip_reserved", reason: `${what} is in the reserved range ${kept.label} of pool '${p.name}'` };
    return { pool: p, idx };
  }
  return { code: "static_ip_outside_pools", reason: `${what} lies in none of the tenant's ${label[family]} pools (register the customer's range as a static pool)` };
}

/**
 * What to do on NetworkProfileCreated / NetworkProfileSkipped. Nothing when the subscriber
 * already holds addresses (the outcome happened) or provisioning already failed (a step that
 * sees the failure before it acts does nothing). Families with a static address use it; the
 * other families the mode needs come from pools. The source is the static one when no pool is
 * touched, else `dynamic`, so the profile writes the whole set back.
 */
export function planAllocation(trigger: Trigger, state: IpamState, held: readonly Held[], pools: readonly PoolInfo[]): Plan {
  if (held.length > 0) return { kind: "nothing", why: "addresses already allocated" };
  if (state.progress.failure) return { kind: "nothing", why: "provisioning already failed" };
  // A late NetworkProfileCreated (the profile service back after its deadline) can come after the
  // subscriber was terminated and its addresses released: nothing would ever release new ones.
  if (state.terminating) return { kind: "nothing", why: "the subscriber is being terminated" };
  const profile = trigger.type === "NetworkProfileCreated" ? trigger.data.profile.config : null;
  const order = trigger.type === "NetworkProfileSkipped" ? trigger.data.network : (state.view?.order_network ?? null);
  const network = profile ?? order;
  if (!network) return { kind: "nothing", why: "no network settings" }; // unreachable: one of them is set
  const needed = familiesFor(network.ipv6_assignment_mode);
  if (!needed) throw new InvalidInput(`unknown ipv6_assignment_mode '${network.ipv6_assignment_mode}'`);
  const chosen = chooseStatics(profile, order);
  const items: PlanItem[] = [];
  for (const family of ["ipv4", "ipv6", "ipv6_pd"] as const) {
    const given = chosen?.statics[family];
    if (given !== undefined && chosen) {
      let address: string;
      try {
        address = canonicalStatic(family, given);
      } catch (err) {
        if (err instanceof AddressError) return { kind: "fail", failure: { code: "invalid_static_ip", reason: `static ${label[family]}: ${err.message}` } };
        throw err;
      }
      const gatewayOf = pools.find((p) => p.family === family && p.gateway === address);
      if (gatewayOf) return { kind: "fail", failure: { code: "invalid_static_ip", reason: `static ${label[family]} ${address} is the gateway of pool '${gatewayOf.name}'` } };
      const misplaced = staticPlacementProblem(family, address, pools);
      if (misplaced) return { kind: "fail", failure: { code: "invalid_static_ip", reason: `static ${label[family]} ${address} ${misplaced}` } };
      const place = placeStatic(family, address, pools);
      if (isFailure(place)) return { kind: "fail", failure: place };
      items.push({ family, kind: "static", address, source: chosen.source, poolId: place.pool.id, idx: place.idx });
    } else if (needed.includes(family)) {
      const pool = choosePool(family, network, pools);
      if (isFailure(pool)) return { kind: "fail", failure: pool };
      items.push({ family, kind: "dynamic", pool });
    }
  }
  const dynamic = items.some((i) => i.kind === "dynamic");
  return { kind: "allocate", items, source: dynamic || !chosen ? "dynamic" : chosen.source };
}

/** Input the contract allows but no decision can serve: the handler turns it into a PoisonMessageError. */
export class InvalidInput extends Error {
  override readonly name = "InvalidInput";
}

export function assignment(held: readonly Pick<Held, "family" | "address">[], source: string): FiberIpAssignment {
  const of = (f: Family) => held.find((h) => h.family === f)?.address ?? null;
  return { ipv4: of("ipv4"), ipv6: of("ipv6"), ipv6_prefix: of("ipv6_pd"), source };
}

export const allocated = (ctx: EventContext, trigger: Trigger, got: readonly Pick<Held, "family" | "address">[], source: Source): Message<"IpAllocated"> =>
  follow(ctx, trigger, "IpAllocated", { ips: assignment(got, source) });

export const allocationFailed = (ctx: EventContext, trigger: Trigger, failure: Failure): Message<"IpAllocationFailed"> =>
  follow(ctx, trigger, "IpAllocationFailed", { code: failure.code, reason: failure.reason });

/**
 * When to give addresses back: after a failed provisioning once every later step that succeeded
 * has undone its own (mayCompensate; even with nothing held, so the rollback can complete), or
 * on termination when ipam's turn in the teardown order comes (teardownDue: the RADIUS account
 * that handed them out and the ONU are gone).
 */
export function planRelease(state: IpamState, held: readonly Held[]): { reason: "rollback" | "terminated" } | null {
  if (mayCompensate(state.progress, "ipam")) return { reason: "rollback" };
  if (held.length > 0 && state.view && teardownDue(state.view, "ipam")) return { reason: "terminated" };
  return null;
}

export function released(ctx: EventContext, cause: Message, held: readonly Held[], reason: string): Message<"IpReleased"> {
  const sources = [...new Set(held.map((h) => h.source))];
  return follow(ctx, cause, "IpReleased", { ips: assignment(held, sources.length === 1 && sources[0] ? sources[0] : "dynamic"), reason });
}
