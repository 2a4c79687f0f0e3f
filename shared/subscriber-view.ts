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
  "BillingServiceCreated",
  "BillingServiceCancelled",
  "BillingServiceTerminated",
  "SubscriberProvisioningFailed",
  "SubscriberProvisioned",
  "SubscriberPlanChangeRequested",
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
    case "NetworkProfileCreated":
    case "NetworkProfileUpdated":
      return { ...v, network: m.data.profile.config, network_source: "network_profile", network_profile_id: m.data.profile.network_profile_id };
    case "NetworkProfileSkipped":
      return { ...v, network: m.data.network, network_source: "order" };
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
    case "OnuDeactivated":
      return { ...v, onu_id: null };
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
      return { ...v, service_plan_id: m.data.service_plan_id, bandwidth_mbps: m.data.bandwidth_mbps };
    default:
      return v;
  }
}
