// The profile service's decisions. Pure: the subscriber's view, its stored profile and the owner
// of its QinQ VLAN pair come in from the handler, ids and the clock through the EventContext.
// - SubscriberCreated → store the profile from the order → NetworkProfileCreated; when it cannot
//   (consumption disabled, a constraint) → NetworkProfileSkipped with the order's network, so
//   provisioning never blocks on the profile; the order's QinQ pair held by another live
//   subscriber of the tenant → NetworkProfileCreationFailed (vlan_in_use): the order fails.
// - IpAllocated with source dynamic → write the IPs back → NetworkProfileUpdated (ip_writeback).
// - Provisioning failed and every later step undone (mayCompensate) → soft delete →
//   NetworkProfileDeleted (rollback). Termination: when the profile's turn in the teardown order
//   comes (teardownDue: RADIUS, ONU, IPs and billing are gone) → soft delete (VLAN, IPs and
//   Option 82 kept for audit) → NetworkProfileDeleted (terminated).
// Every branch emits nothing when its outcome already happened, so a redelivery is harmless even
// without the inbox.
import type { FiberNetworkConfig, FiberNetworkProfile, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { follow } from "../../shared/messages.js";
import { mayCompensate } from "../../shared/progress.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { teardownDue } from "../../shared/teardown.js";

/** A stored network profile, as the decisions see it. */
export interface StoredProfile {
  readonly network_profile_id: string;
  readonly config: FiberNetworkConfig;
  readonly metadata: Readonly<Record<string, string>>;
  readonly deleted: boolean;
}

export interface ProfileState {
  /** What the service knew of the subscriber before this event. */
  readonly view: SubscriberView | null;
  /** The subscriber's profile, soft-deleted or not. */
  readonly profile: StoredProfile | null;
  /** Another live subscriber of the tenant holding the order's QinQ pair, if any. */
  readonly vlanOwner: string | null;
}

export interface ProfileSettings {
  /** ENABLE_NETWORK_PROFILE_CONSUMPTION */
  readonly enabled: boolean;
}

export interface IpWriteback {
  readonly static_ipv4: string | null;
  readonly static_ipv6: string | null;
  readonly delegated_ipv6_prefix: string | null;
}

export type Decision =
  | { readonly kind: "none"; readonly why: string }
  | { readonly kind: "create"; readonly profile: FiberNetworkProfile; readonly event: Message<"NetworkProfileCreated"> }
  | { readonly kind: "skip"; readonly event: Message<"NetworkProfileSkipped"> }
  | { readonly kind: "fail"; readonly event: Message<"NetworkProfileCreationFailed"> }
  | { readonly kind: "writeback"; readonly ips: IpWriteback; readonly event: Message<"NetworkProfileUpdated"> }
  | { readonly kind: "soft-delete"; readonly profile: StoredProfile; readonly event: Message<"NetworkProfileDeleted"> };

export const disabledReason = "network profile consumption is disabled (ENABLE_NETWORK_PROFILE_CONSUMPTION=false)";

const none = (why: string): Decision => ({ kind: "none", why });

/** NetworkProfileSkipped for `cause` (a SubscriberCreated): the chain goes on with the order's network. */
export function skip(ctx: EventContext, cause: Message<"SubscriberCreated">, reason: string, code: "consumption_disabled" | "not_stored"): Decision {
  return { kind: "skip", event: follow(ctx, cause, "NetworkProfileSkipped", { reason, network: cause.data.network, code }) };
}

/** NetworkProfileCreationFailed (vlan_in_use) for `cause`: the order's QinQ pair is another live subscriber's; provisioning fails. */
export function vlanInUse(ctx: EventContext, cause: Message<"SubscriberCreated">, reason: string): Decision {
  return { kind: "fail", event: follow(ctx, cause, "NetworkProfileCreationFailed", { code: "vlan_in_use", reason }) };
}

function onSubscriberCreated(state: ProfileState, m: Message<"SubscriberCreated">, ctx: EventContext, settings: ProfileSettings): Decision {
  if (state.view) return none("subscriber already seen: its profile was created or skipped then");
  if (!settings.enabled) return skip(ctx, m, disabledReason, "consumption_disabled");
  const n = m.data.network;
  if (n.qinq_enabled && state.vlanOwner) {
    // Not a skip: RADIUS and the OLT would use the order's VLANs anyway, and two customers would
    // share one C-VLAN. The order fails at the profile step.
    return vlanInUse(ctx, m, `QinQ VLAN pair ${n.service_vlan}/${n.inner_vlan} already belongs to subscriber ${state.vlanOwner}`);
  }
  const profile: FiberNetworkProfile = {
    network_profile_id: state.profile?.network_profile_id ?? ctx.newId(),
    config: n,
    metadata: m.data.metadata,
  };
  return { kind: "create", profile, event: follow(ctx, m, "NetworkProfileCreated", { profile }) };
}

function onIpAllocated(state: ProfileState, after: SubscriberView | null, m: Message<"IpAllocated">, ctx: EventContext): Decision {
  const { ips } = m.data;
  if (ips.source !== "dynamic") return none(`IPs from ${ips.source}: nothing to write back`);
  if (after?.progress.failure) return none("provisioning already failed: no write-back");
  const p = state.profile;
  if (!p || p.deleted) return none("no live network profile to write back to");
  const next: IpWriteback = {
    static_ipv4: ips.ipv4 ?? p.config.static_ipv4,
    static_ipv6: ips.ipv6 ?? p.config.static_ipv6,
    delegated_ipv6_prefix: ips.ipv6_prefix ?? p.config.delegated_ipv6_prefix,
  };
  const c = p.config;
  if (next.static_ipv4 === c.static_ipv4 && next.static_ipv6 === c.static_ipv6 && next.delegated_ipv6_prefix === c.delegated_ipv6_prefix) {
    return none("IPs already written back");
  }
  const profile: FiberNetworkProfile = { network_profile_id: p.network_profile_id, config: { ...c, ...next }, metadata: { ...p.metadata } };
  return { kind: "writeback", ips: next, event: follow(ctx, m, "NetworkProfileUpdated", { profile, change: "ip_writeback" }) };
}

function softDelete(state: ProfileState, m: Message, ctx: EventContext, reason: "rollback" | "terminated"): Decision {
  const p = state.profile;
  if (!p || p.deleted) return none("no live network profile to delete");
  return {
    kind: "soft-delete",
    profile: p,
    event: follow(ctx, m, "NetworkProfileDeleted", { network_profile_id: p.network_profile_id, soft_deleted: true, reason }),
  };
}

/** The view after `m` and what to do about `m`. */
export function decide(
  state: ProfileState,
  m: Message,
  ctx: EventContext,
  settings: ProfileSettings,
): { readonly view: SubscriberView | null; readonly decision: Decision } {
  const view = evolveView(state.view, m);
  const decision = (() => {
    switch (m.type) {
      case "SubscriberCreated":
        return onSubscriberCreated(state, m, ctx, settings);
      case "IpAllocated":
        return onIpAllocated(state, view, m, ctx);
      default:
        if (view && teardownDue(view, "profile")) return softDelete(state, m, ctx, "terminated");
        return view && mayCompensate(view.progress, "profile") ? softDelete(state, m, ctx, "rollback") : none("nothing to do");
    }
  })();
  return { view, decision };
}
