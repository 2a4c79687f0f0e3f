// The projection's pure fold: (document | null, lifecycle event) → document. No clock, no ids,
// no randomness: a replay of the lifecycle topic from offset 0 rebuilds equal documents, and an
// event already in the timeline (a redelivery) returns the document unchanged.
//
// service_metadata keeps exactly the seed's shape (network_profile, allocated_ips, devices,
// radius). Decisions recorded here:
// - NetworkProfileSkipped leaves network_profile null: that part shows the stored profile only,
//   and the order's VLANs are not a profile. The subscriber is marked degraded (with the reason)
//   and the timeline entry names the order's VLANs the chain went on with.
// - Compensation and teardown events clear their part (IpReleased → allocated_ips null, ...) and
//   stay in the timeline.
// - cpe_id stays null until CPE management exists.
// - The outcome of the last CoA / Disconnect-Request is a `radius_coa` part next to
//   service_metadata (whose shape stays the seed's). A failed one (nak, timeout) adds a reason to
//   degraded_reasons (an active subscriber shows degraded); a later successful one clears it.
// - The current plan (service_plan_id) is kept in the document (not in the HTTP answer, whose
//   shape the existing readers pin): SubscriberCreated sets it, SubscriberPlanChanged moves it.
import type { EventData, FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";

export const statuses = ["provisioning", "active", "degraded", "failed", "rolled_back", "suspended", "terminating", "terminated"] as const;
export type Status = (typeof statuses)[number];

export interface NetworkProfilePart {
  readonly network_profile_id: string;
  readonly service_vlan: number | null;
  readonly inner_vlan: number | null;
  readonly qinq_enabled: boolean;
  readonly ipv6_assignment_mode: string;
}

/** The seed's service_metadata. allocated_ips.source: network_profile | order_static | dynamic. */
export interface ServiceMetadataDoc {
  readonly network_profile: NetworkProfilePart | null;
  readonly allocated_ips: FiberIpAssignment | null;
  readonly devices: { readonly onu_id: string | null; readonly cpe_id: null };
  readonly radius: { readonly username: string | null };
}

export interface TimelineEntry {
  readonly at: number;
  readonly event_type: string;
  readonly event_id: string;
  readonly summary: string;
}

/** The outcome of the last RFC 5176 request to the subscriber's NAS. */
export interface RadiusCoaPart {
  readonly kind: string;
  readonly outcome: string;
  readonly nas_id: string | null;
  readonly error_cause: number | null;
  readonly attempts: number;
  readonly at: number;
}

export interface ProjectionDocument {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly status: Status;
  readonly service_metadata: ServiceMetadataDoc;
  readonly timeline: readonly TimelineEntry[];
  /** Why an active subscriber runs degraded (e.g. its network profile was skipped). */
  readonly degraded_reasons: readonly string[];
  /** Absent on documents stored before CoA existed. */
  readonly radius_coa?: RadiusCoaPart | null;
  readonly service_plan_id?: string | null;
  readonly last_event_id: string;
}

export const emptyMetadata: ServiceMetadataDoc = {
  network_profile: null,
  allocated_ips: null,
  devices: { onu_id: null, cpe_id: null },
  radius: { username: null },
};

const vlans = (n: FiberNetworkConfig): string =>
  n.service_vlan === null ? "no VLAN" : n.qinq_enabled && n.inner_vlan !== null ? `VLAN ${n.service_vlan}/${n.inner_vlan} (QinQ)` : `VLAN ${n.service_vlan}`;

const profilePart = (id: string, n: FiberNetworkConfig): NetworkProfilePart => ({
  network_profile_id: id,
  service_vlan: n.service_vlan,
  inner_vlan: n.inner_vlan,
  qinq_enabled: n.qinq_enabled,
  ipv6_assignment_mode: n.ipv6_assignment_mode,
});

const ipList = (ips: FiberIpAssignment): string => [ips.ipv4, ips.ipv6, ips.ipv6_prefix].filter((x) => x !== null).join(", ") || "none";

type Change = {
  readonly status?: Status;
  readonly metadata?: Partial<ServiceMetadataDoc>;
  readonly degraded?: string;
  /** Degraded reasons that no longer hold (by prefix). */
  readonly clears?: string;
  readonly coa?: RadiusCoaPart;
  readonly plan?: string;
  readonly summary: string;
};

const coaReasonPrefix = "CoA to NAS ";
const onuRefusedPrefix = "ONU deactivation of ";
const teardownPrefix = "termination ";
const requestName = (kind: string): string => (kind === "disconnect" ? "Disconnect-Request" : "CoA");

function coaChange(doc: ProjectionDocument, m: Message<"RadiusCoaCompleted">): Change {
  const { kind, outcome, nas_id, error_cause, attempts } = m.data;
  const nas = nas_id ?? "unknown NAS";
  const coa: RadiusCoaPart = { kind, outcome, nas_id, error_cause, attempts, at: m.meta.occurred_at };
  const to = `${requestName(kind)} to ${nas}`;
  switch (outcome) {
    case "ack":
      return { coa, clears: coaReasonPrefix, ...(doc.status === "degraded" && doc.degraded_reasons.every((r) => r.startsWith(coaReasonPrefix)) ? { status: "active" as const } : {}), summary: `${to}: ACK` };
    case "no_session":
      return { coa, clears: coaReasonPrefix, summary: `${to}: no open session` };
    case "nak":
    case "timeout": {
      const detail = outcome === "nak" ? `NAK${error_cause !== null ? ` (Error-Cause ${error_cause})` : ""}` : `timeout after ${attempts} attempt${attempts === 1 ? "" : "s"}`;
      return {
        coa,
        clears: coaReasonPrefix,
        degraded: `${coaReasonPrefix}${nas} failed (${outcome}): the session may still run at the old state`,
        ...(doc.status === "active" ? { status: "degraded" as const } : {}),
        summary: `${to}: ${detail}`,
      };
    }
    case "unknown_nas":
    case "error": {
      // Nothing reached a NAS: the session goes on at its old state until someone acts.
      const where = outcome === "unknown_nas" ? `NAS ${m.data.nas_address ?? "(address unknown)"} is not registered` : "the request could not be built";
      return {
        coa,
        clears: coaReasonPrefix,
        degraded: `${coaReasonPrefix}${outcome === "unknown_nas" ? (m.data.nas_address ?? nas) : nas} not sent (${outcome}): ${where}; the session may still run at the old state`,
        ...(doc.status === "active" ? { status: "degraded" as const } : {}),
        summary: `${requestName(kind)} not sent: ${where}`,
      };
    }
    default:
      return { coa, summary: `${to}: ${outcome}` };
  }
}

/** What one event changes and how the timeline tells it. */
function changeOf(doc: ProjectionDocument, m: Message): Change {
  const md = doc.service_metadata;
  switch (m.type) {
    case "SubscriberCreated":
      return { status: "provisioning", plan: m.data.service_plan_id, summary: `Subscriber ${m.data.subscriber_number} created from order ${m.data.order_id} (${m.data.service_plan_id}, ${m.data.connection_type})` };
    case "NetworkProfileCreated":
      return {
        metadata: { network_profile: profilePart(m.data.profile.network_profile_id, m.data.profile.config) },
        summary: `Network profile ${m.data.profile.network_profile_id} created (${vlans(m.data.profile.config)}, IPv6 mode ${m.data.profile.config.ipv6_assignment_mode})`,
      };
    case "NetworkProfileUpdated":
      return {
        metadata: { network_profile: profilePart(m.data.profile.network_profile_id, m.data.profile.config) },
        summary: `Network profile updated (${m.data.change})`,
      };
    case "NetworkProfileSkipped":
      // The first answer of the profile step wins: a skip after the profile changes nothing.
      if (md.network_profile) return { summary: `Network profile skip ignored (${m.data.reason}): the profile answered first` };
      return {
        degraded: `network profile skipped: ${m.data.reason}`,
        summary: `Network profile skipped: ${m.data.reason}; going on with the order's network settings (${vlans(m.data.network)})`,
      };
    case "NetworkProfileDeleted":
      return { metadata: { network_profile: null }, summary: `Network profile ${m.data.network_profile_id} deleted (${m.data.reason})` };
    case "IpAllocated":
      return { metadata: { allocated_ips: m.data.ips }, summary: `IPs allocated: ${ipList(m.data.ips)} (${m.data.ips.source})` };
    case "NetworkProfileCreationFailed":
      return { summary: `Network profile refused: ${m.data.reason} (${m.data.code})` };
    case "IpAllocationFailed":
      return { summary: `IP allocation failed: ${m.data.reason} (${m.data.code})` };
    case "IpReleased":
      return { metadata: { allocated_ips: null }, summary: `IPs released: ${ipList(m.data.ips)} (${m.data.reason})` };
    case "RadiusAccountCreated":
      return { metadata: { radius: { username: m.data.username } }, summary: `RADIUS account ${m.data.username} created (group ${m.data.plan_group})` };
    case "RadiusAccountCreationFailed":
      return { summary: `RADIUS account creation failed: ${m.data.reason} (${m.data.code})` };
    case "RadiusAccountDeleted":
      return { metadata: { radius: { username: null } }, summary: `RADIUS account ${m.data.username} deleted (${m.data.reason})` };
    case "OnuActivated":
      return {
        metadata: { devices: { ...md.devices, onu_id: m.data.onu_id } },
        summary: `ONU ${m.data.onu_id} activated on ${m.data.olt_id} ${m.data.pon_port} (S-VLAN ${m.data.s_vlan ?? "-"}, C-VLAN ${m.data.c_vlan ?? "-"}, ${m.data.bandwidth_mbps} Mbps)`,
      };
    case "OnuActivationSkipped":
      return { summary: `ONU activation skipped: ${m.data.reason}` };
    case "OnuActivationFailed":
      return { summary: `ONU activation failed: ${m.data.reason} (${m.data.code})` };
    case "OnuDeactivated":
      return { metadata: { devices: { ...md.devices, onu_id: null } }, clears: onuRefusedPrefix, summary: `ONU ${m.data.onu_id} deactivated (${m.data.reason})` };
    case "OnuDeactivationFailed":
      // The ONU keeps its flow until an operator retries: a termination's stall, or a rollback left half-done.
      return {
        degraded: `${onuRefusedPrefix}${m.data.onu_id} refused (${m.data.code}): ${m.data.reason}; retry with a terminate order`,
        ...(m.data.purpose === "rollback" ? {} : { status: "degraded" as const }),
        summary: `ONU ${m.data.onu_id} deactivation (${m.data.purpose}) refused: ${m.data.reason} (${m.data.code})`,
      };
    case "OnuBandwidthChangeFailed":
      return m.data.reverts_order_id
        ? {
            degraded: `ONU ${m.data.onu_id} still at the bandwidth of failed plan change ${m.data.reverts_order_id}: putting back ${m.data.bandwidth_mbps} Mbps was refused (${m.data.code})`,
            ...(doc.status === "active" ? { status: "degraded" as const } : {}),
            summary: `ONU ${m.data.onu_id} bandwidth could not be put back to ${m.data.bandwidth_mbps} Mbps: ${m.data.reason} (${m.data.code})`,
          }
        : { summary: `ONU ${m.data.onu_id} bandwidth change to ${m.data.bandwidth_mbps} Mbps refused: ${m.data.reason} (${m.data.code})` };
    case "BillingServiceCreated":
      return { summary: `Billing service ${m.data.service_id} created for plan ${m.data.service_plan_id}` };
    case "BillingServiceCreationFailed":
      return { summary: `Billing service creation failed: ${m.data.reason} (${m.data.code})` };
    case "BillingServiceCancelled":
      return { summary: `Billing service ${m.data.service_id} cancelled (${m.data.reason})` };
    case "SubscriberProvisioned":
      return doc.degraded_reasons.length > 0
        ? { status: "degraded", summary: `Subscriber provisioned, degraded: ${doc.degraded_reasons.join("; ")}` }
        : { status: "active", summary: "Subscriber provisioned and active" };
    case "SubscriberProvisioningFailed":
      return { status: "failed", summary: `Provisioning failed at ${m.data.step}: ${m.data.reason}` };
    case "SubscriberProvisioningRolledBack":
      return { status: "rolled_back", summary: `Provisioning rolled back (${m.data.compensated.join(", ") || "nothing to undo"})` };
    case "SubscriberSuspendRequested":
      return {
        summary: `Suspension requested by order ${m.data.order_id}${m.data.reason ? ` (${m.data.reason})` : ""}${m.data.network ? ` for ${vlans(m.data.network)}, IPv6 mode ${m.data.network.ipv6_assignment_mode}` : ""}`,
      };
    case "SubscriberSuspended":
      return { status: "suspended", summary: "Subscriber suspended" };
    case "SubscriberResumeRequested":
      return { summary: `Resume requested by order ${m.data.order_id}` };
    case "SubscriberResumed":
      return { status: doc.degraded_reasons.length > 0 ? "degraded" : "active", summary: "Subscriber resumed" };
    case "SubscriberPlanChangeRequested":
      return { summary: `Plan change to ${m.data.service_plan_id} (${m.data.bandwidth_mbps} Mbps) from ${m.data.effective_date} requested by order ${m.data.order_id}` };
    case "SubscriberPlanChangeScheduled":
      return { summary: `Plan change to ${m.data.service_plan_id} (${m.data.bandwidth_mbps} Mbps) scheduled for ${m.data.effective_date} by order ${m.data.order_id}` };
    case "SubscriberPlanChanged":
      return { plan: m.data.service_plan_id, summary: `Plan changed to ${m.data.service_plan_id}` };
    case "SubscriberTerminationRequested":
      return { status: "terminating", summary: `Termination requested by order ${m.data.order_id}${m.data.reason ? ` (${m.data.reason})` : ""}` };
    case "SubscriberArchived":
      return { status: "terminated", clears: teardownPrefix, summary: "Subscriber terminated and archived" };
    case "SubscriberTeardownFailed":
      return {
        status: "degraded",
        degraded: `${teardownPrefix}stopped at ${m.data.step} (${m.data.code}): ${m.data.reason}; still held: ${m.data.remaining.join(", ") || "nothing"}`,
        summary: `Termination ${m.data.order_id} stopped at ${m.data.step}: ${m.data.reason} (${m.data.code}); still held: ${m.data.remaining.join(", ") || "nothing"}`,
      };
    case "SubscriberPlanChangeFailed":
      return { plan: m.data.service_plan_id, summary: `Plan change ${m.data.order_id} failed at ${m.data.step}: ${m.data.reason} (${m.data.code}); plan ${m.data.service_plan_id} (${m.data.bandwidth_mbps} Mbps) kept, steps that moved put it back` };
    case "RadiusAccountSuspended":
      return { summary: `RADIUS account ${m.data.username} suspended (${m.data.mode === "walled_garden" ? "walled garden" : "Auth-Type Reject"})` };
    case "RadiusAccountResumed":
      return { summary: `RADIUS account ${m.data.username} resumed` };
    case "RadiusPlanChanged":
      return { summary: `RADIUS plan of ${m.data.username} ${m.data.reverts_order_id ? "put back" : "changed"} to ${m.data.service_plan_id}${m.data.rate_limit ? ` (rate limit ${m.data.rate_limit})` : ""}` };
    case "RadiusPlanChangeFailed":
      return { summary: `RADIUS plan change to ${m.data.service_plan_id} failed: ${m.data.reason} (${m.data.code})` };
    case "RadiusCoaCompleted":
      return coaChange(doc, m);
    case "OnuBandwidthChanged":
      return { summary: `ONU ${m.data.onu_id} bandwidth ${m.data.reverts_order_id ? "put back" : "changed"} to ${m.data.bandwidth_mbps} Mbps` };
    case "BillingServiceSuspended":
      return { summary: `Billing service ${m.data.service_id} suspended` };
    case "BillingServiceResumed":
      return { summary: `Billing service ${m.data.service_id} resumed` };
    case "BillingPlanChanged":
      return { summary: `Billing service ${m.data.service_id} charges plan ${m.data.service_plan_id} from ${m.data.effective_date}${m.data.reverts_order_id ? ` again (plan change ${m.data.reverts_order_id} undone)` : ""}` };
    case "BillingPlanChangeFailed":
      return { summary: `Billing plan change to ${m.data.service_plan_id} failed: ${m.data.reason} (${m.data.code})` };
    case "BillingServiceTerminated":
      return { summary: `Billing service ${m.data.service_id} terminated` };
    default:
      return { summary: m.type.replace(/([a-z])([A-Z])/g, "$1 $2") };
  }
}

/** A document for a subscriber whose first event seen is not SubscriberCreated (kept, not dropped). */
export const initialDocument = (tenantId: string, subscriberId: string): ProjectionDocument => ({
  tenant_id: tenantId,
  subscriber_id: subscriberId,
  status: "provisioning",
  service_metadata: emptyMetadata,
  timeline: [],
  degraded_reasons: [],
  radius_coa: null,
  service_plan_id: null,
  last_event_id: "",
});

export function fold(doc: ProjectionDocument | null, m: Message): ProjectionDocument {
  const current = doc ?? initialDocument(m.meta.tenant_id, m.meta.subscriber_id ?? "");
  if (current.timeline.some((e) => e.event_id === m.meta.event_id)) return current;
  const change = changeOf(current, m);
  const kept = change.clears ? current.degraded_reasons.filter((r) => !r.startsWith(change.clears ?? "")) : current.degraded_reasons;
  return {
    ...current,
    status: change.status ?? current.status,
    service_metadata: { ...current.service_metadata, ...change.metadata },
    degraded_reasons: change.degraded && !kept.includes(change.degraded) ? [...kept, change.degraded] : kept,
    radius_coa: change.coa ?? current.radius_coa ?? null,
    service_plan_id: change.plan ?? current.service_plan_id ?? null,
    timeline: [...current.timeline, { at: m.meta.occurred_at, event_type: m.type, event_id: m.meta.event_id, summary: change.summary }],
    last_event_id: m.meta.event_id,
  };
}

/** The ServiceMetadata snapshot of a document, as published on service-metadata.v1. */
export const snapshotOf = (doc: ProjectionDocument): EventData<"ServiceMetadata"> => ({
  status: doc.status,
  network_profile: doc.service_metadata.network_profile,
  allocated_ips: doc.service_metadata.allocated_ips,
  devices: doc.service_metadata.devices,
  radius: doc.service_metadata.radius,
  timeline: [...doc.timeline],
});
