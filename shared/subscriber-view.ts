// What a service knows of one subscriber from the lifecycle events it has consumed: order data,
// the effective network settings (the profile's when there is one, else the order's), the
// assigned IPs, and provisioning progress. Pure. Services keep this per subscriber in their own
// schema (a jsonb column), so later steps (suspend, terminate) need no call to another service.
import type { EventName, FiberIpAssignment, FiberNetworkConfig, Message } from "../schemas/generated/events.js";
import { evolveProgress, initialProgress, type Progress } from "./progress.js";

/**
 * The lifecycle events the view folds: the one list of them. A service that decides on the view
 * reacts to these (shared/reactor.ts viewReactor) plus its own triggers.
 */
export const viewEvents = [
  "SubscriberCreated",
  "NetworkProfileCreated",
  "NetworkProfileUpdated",
  "NetworkProfileSkipped",
  "NetworkProfileDeleted",
  "IpAllocated",
  "IpReleased",
  "RadiusAccountCreated",
  "RadiusAccountDeleted",
  "OnuActivated",
  "OnuDeactivated",
  "OnuDeactivationFailed",
  "BillingServiceCreated",
  "BillingServiceCancelled",
  "BillingServiceTerminated",
  "SubscriberProvisioningFailed",
  "SubscriberProvisioned",
  "SubscriberPlanChangeRequested",
  "SubscriberPlanChangeFailed",
  "SubscriberSuspended",
  "SubscriberResumed",
  "SubscriberTerminationRequested",
  "SubscriberArchived",
] as const satisfies readonly EventName[];

/** Where the subscriber is in its life, as the lifecycle events tell it. */
export type Phase = "provisioning" | "active" | "failed" | "suspended" | "terminating" | "archived";

export interface SubscriberView {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly subscriber_number: string;
  readonly order_id: string;
  readonly connection_type: string;
  readonly service_plan_id: string;
  readonly bandwidth_mbps: number;
  readonly onu_serial: string | null;
  /** The order's network settings, as SubscriberCreated carried them. */
  readonly order_network: FiberNetworkConfig;
  /** The effective network settings: the profile's when one was created, else the order's. */
  readonly network: FiberNetworkConfig;
  readonly network_source: "network_profile" | "order";
  readonly network_profile_id: string | null;
  readonly ips: FiberIpAssignment | null;
  readonly radius_username: string | null;
  readonly onu_id: string | null;
  readonly billing_service_id: string | null;
  readonly progress: Progress;
  /**
   * The profile step was skipped (disabled, refused, or its deadline passed): the chain goes on
   * with the order's settings, and a profile created later changes only network_profile_id.
   */
  readonly profile_skipped?: boolean;
  /** The OLT refused to remove the ONU's flow (a rollback or a teardown stops there until a retry). */
  readonly onu_deactivation_refused?: boolean;
  /** Absent on views stored before phases existed: read it with `phaseOf`. */
  readonly phase?: Phase;
}

export const phaseOf = (v: SubscriberView): Phase => v.phase ?? (v.progress.provisioned ? "active" : v.progress.failure ? "failed" : "provisioning");

/** Folds one lifecycle event in. Events before SubscriberCreated (none, in partition order) are ignored. */
export function evolveView(view: SubscriberView | null, m: Message): SubscriberView | null {
  if (m.type === "SubscriberCreated") {
    if (view) return view; // redelivery
    return {
      tenant_id: m.meta.tenant_id,
      subscriber_id: m.meta.subscriber_id ?? "",
      subscriber_number: m.data.subscriber_number,
      order_id: m.data.order_id,
      connection_type: m.data.connection_type,
      service_plan_id: m.data.service_plan_id,
      bandwidth_mbps: m.data.bandwidth_mbps,
      onu_serial: m.data.onu_serial,
      order_network: m.data.network,
      network: m.data.network,
      network_source: "order",
      network_profile_id: null,
      ips: null,
      radius_username: null,
      onu_id: null,
      billing_service_id: null,
      progress: initialProgress,
      phase: "provisioning",
    };
  }
  if (!view) return null;
  const v = { ...view, progress: evolveProgress(view.progress, m) };
  switch (m.type) {
    // The first answer of the profile step wins: a profile created after the step was skipped
    // (the profile service back after its deadline) is recorded, but the chain keeps the settings
    // it went on with; a skip after a profile changes nothing.
    case "NetworkProfileCreated":
    case "NetworkProfileUpdated":
      if (v.profile_skipped) return { ...v, network_profile_id: m.data.profile.network_profile_id };
      return { ...v, network: m.data.profile.config, network_source: "network_profile", network_profile_id: m.data.profile.network_profile_id };
    case "NetworkProfileSkipped":
      if (v.network_profile_id !== null) return v;
      return { ...v, network: m.data.network, network_source: "order", profile_skipped: true };
    case "NetworkProfileDeleted":
      return { ...v, network_profile_id: null };
    case "IpAllocated":
      return { ...v, ips: m.data.ips };
    case "IpReleased":
      return { ...v, ips: null };
    case "RadiusAccountCreated":
      return { ...v, radius_username: m.data.username };
    case "RadiusAccountDeleted":
      return { ...v, radius_username: null };
    case "OnuActivated":
      return { ...v, onu_id: m.data.onu_id };
    case "OnuDeactivated": {
      const { onu_deactivation_refused: _refused, ...rest } = v;
      return { ...rest, onu_id: null };
    }
    case "OnuDeactivationFailed":
      return { ...v, onu_deactivation_refused: true };
    case "BillingServiceCreated":
      return { ...v, billing_service_id: m.data.service_id };
    case "BillingServiceCancelled":
    case "BillingServiceTerminated":
      return { ...v, billing_service_id: null };
    case "SubscriberProvisioned":
      return { ...v, phase: "active" };
    case "SubscriberProvisioningFailed":
      return phaseOf(v) === "provisioning" ? { ...v, phase: "failed" } : v;
    case "SubscriberSuspended":
      return { ...v, phase: "suspended" };
    case "SubscriberResumed":
      return { ...v, phase: "active" };
    case "SubscriberTerminationRequested":
      return { ...v, phase: "terminating" };
    case "SubscriberArchived":
      return { ...v, phase: "archived" };
    case "SubscriberPlanChangeRequested":
    case "SubscriberPlanChangeFailed": // the plan kept: every step that moved puts it back
      return { ...v, service_plan_id: m.data.service_plan_id, bandwidth_mbps: m.data.bandwidth_mbps };
    default:
      return v;
  }
}

// ---- the view as stored --------------------------------------------------------------------

/** Every setting of FiberNetworkConfig (the type check below fails when the contract adds one). */
const networkKeys = [
  "service_vlan",
  "inner_vlan",
  "qinq_enabled",
  "vlan_pool",
  "circuit_id",
  "remote_id",
  "option82_policy",
  "static_ipv4",
  "static_ipv6",
  "delegated_ipv6_prefix",
  "ipv6_pd_size",
  "ipv6_assignment_mode",
  "ipv4_pool",
  "ipv6_pool",
  "ipv6_pd_pool",
] as const satisfies ReadonlyArray<keyof FiberNetworkConfig>;
type MissingNetworkKey = Exclude<keyof FiberNetworkConfig, (typeof networkKeys)[number]>;
const allNetworkKeys: MissingNetworkKey extends never ? true : MissingNetworkKey = true;
void allNetworkKeys;

type Settings = Partial<Record<keyof FiberNetworkConfig, unknown>>;

/**
 * The view as a service stores it (jsonb): the effective network without its unset (null)
 * settings, and of the order's network only what differs from it, so a stored view is about
 * half the size of the view (every view service and the subscriber service write it).
 */
export interface StoredView extends Omit<SubscriberView, "network" | "order_network"> {
  readonly network: Settings;
  /** The order's network settings that differ from `network`. */
  readonly order_network_changes: Settings;
}

export function storedView(v: SubscriberView): StoredView {
  const { network, order_network, ...rest } = v;
  const net: Settings = {};
  const changes: Settings = {};
  for (const k of networkKeys) {
    if (network[k] !== null) net[k] = network[k];
    if (order_network[k] !== network[k]) changes[k] = order_network[k];
  }
  return { ...rest, network: net, order_network_changes: changes };
}

/** The view from its stored form; a view stored whole (before StoredView) reads as it is. */
export function viewFromStored(stored: StoredView | SubscriberView): SubscriberView {
  if ("order_network" in stored) return stored;
  const { network, order_network_changes, ...rest } = stored;
  const net = Object.fromEntries(networkKeys.map((k) => [k, network[k] ?? null])) as unknown as FiberNetworkConfig;
  return { ...rest, network: net, order_network: { ...net, ...order_network_changes } as FiberNetworkConfig };
}
