// The olt service's decisions, pure: given what it knows of a subscriber (the view, already
// evolved with the incoming event) and its own state, what to do now. Activation and
// deactivation go through the OLT driver, so they come back as requests; the handler runs the
// driver and hands the result to `activated` / `refused` / `deactivated` for the event to emit.
// - RadiusAccountCreated → activate (FTTH) or OnuActivationSkipped.
// - Provisioning failed and every later step undone (mayCompensate) → deactivate (rollback).
// - Termination: the ONU's turn in the teardown order (teardownDue: the RADIUS account is gone)
//   → deactivate → OnuDeactivated (terminated).
// - SubscriberPlanChangeRequested for an FTTH subscriber with an active ONU → set the service
//   flow's bandwidth → OnuBandwidthChanged, or OnuBandwidthChangeFailed when the OLT refuses; no
//   ONU → nothing.
// - SubscriberPlanChangeFailed (another step failed the plan change) → the bandwidth this service
//   set for it goes back to the plan kept → OnuBandwidthChanged {reverts_order_id}.
// - A deactivation the OLT refuses → OnuDeactivationFailed; it is tried again only when a
//   termination is ordered again (the operator's retry), not on every later event.
import type { Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import { mayCompensate } from "../../shared/progress.js";
import { phaseOf, type SubscriberView } from "../../shared/subscriber-view.js";
import { teardownDue } from "../../shared/teardown.js";

export interface Activation {
  readonly onu_id: string;
  readonly onu_serial: string;
  readonly olt_id: string;
  readonly pon_port: string;
  readonly s_vlan: number | null;
  readonly c_vlan: number | null;
  readonly bandwidth_mbps: number;
}

/** What the olt service itself decided for one subscriber. */
export interface OltState {
  readonly outcome: "activated" | "failed" | "skipped" | null;
  readonly activation: Activation | null;
  readonly deactivated: boolean;
  /** The OLT refused the last deactivation: wait for a termination order to try again. */
  readonly deactivation_failed?: boolean;
}

export const initialOltState: OltState = { outcome: null, activation: null, deactivated: false };

export interface ActivationRequest {
  readonly tenant: string;
  readonly subscriberId: string;
  readonly serial: string;
  readonly sVlan: number | null;
  readonly cVlan: number | null;
  readonly bandwidthMbps: number;
}

export interface DeactivationRequest {
  readonly tenant: string;
  readonly subscriberId: string;
  readonly serial: string;
  readonly onuId: string;
  readonly reason: "rollback" | "terminated";
}

export interface BandwidthRequest {
  readonly tenant: string;
  readonly subscriberId: string;
  readonly serial: string;
  readonly onuId: string;
  readonly bandwidthMbps: number;
  /** Set when this puts back the bandwidth before a failed plan change order. */
  readonly revertsOrderId: string | null;
}

export interface Emit {
  readonly events: readonly Message[];
  readonly state: OltState;
}

export type OltDecision =
  | { readonly kind: "nothing"; readonly why: string }
  | ({ readonly kind: "emit" } & Emit)
  | { readonly kind: "activate"; readonly request: ActivationRequest }
  | { readonly kind: "deactivate"; readonly request: DeactivationRequest }
  | { readonly kind: "set-bandwidth"; readonly request: BandwidthRequest };

const nothing = (why: string): OltDecision => ({ kind: "nothing", why });

export const isFtth = (connectionType: string): boolean => connectionType.trim().toLowerCase() === "ftth";

/** A deactivation the OLT refused is tried again only on a new termination order. */
const mayDeactivate = (state: OltState, event: Message): boolean =>
  !state.deactivated && (!state.deactivation_failed || event.type === "SubscriberTerminationRequested");

export function decide(view: SubscriberView, state: OltState, event: Message, ctx: EventContext): OltDecision {
  if (mayCompensate(view.progress, "olt") && mayDeactivate(state, event)) {
    const serial = state.activation?.onu_serial ?? view.onu_serial;
    const onuId = state.activation?.onu_id ?? view.onu_id;
    if (serial && onuId) return { kind: "deactivate", request: { tenant: view.tenant_id, subscriberId: view.subscriber_id, serial, onuId, reason: "rollback" } };
  }
  if (teardownDue(view, "olt") && mayDeactivate(state, event)) {
    const serial = state.activation?.onu_serial ?? view.onu_serial;
    const onuId = view.onu_id ?? state.activation?.onu_id;
    if (serial && onuId) return { kind: "deactivate", request: { tenant: view.tenant_id, subscriberId: view.subscriber_id, serial, onuId, reason: "terminated" } };
  }
  if (event.type === "SubscriberPlanChangeRequested") return onPlanChange(view, state, event.data.bandwidth_mbps, null);
  if (event.type === "SubscriberPlanChangeFailed") {
    // Put back only what this service moved: an ONU still at the kept bandwidth has nothing to undo.
    if (state.activation?.bandwidth_mbps === event.data.bandwidth_mbps) return nothing("bandwidth unchanged by the failed plan change");
    return onPlanChange(view, state, event.data.bandwidth_mbps, event.data.order_id);
  }
  if (event.type !== "RadiusAccountCreated") return nothing("not a trigger");
  if (state.outcome !== null) return nothing(`activation already ${state.outcome}`);
  // Provisioning failed before our turn came: there is nothing to do and nothing to undo.
  if (view.progress.failure) return nothing("provisioning already failed");
  if (!isFtth(view.connection_type)) {
    return emit(state, "skipped", follow(ctx, event, "OnuActivationSkipped", {
      connection_type: view.connection_type,
      reason: `connection type ${view.connection_type} has no ONU to activate`,
    }));
  }
  if (!view.onu_serial) {
    return emit(state, "failed", follow(ctx, event, "OnuActivationFailed", { onu_serial: null, code: "onu_serial_missing", reason: "an FTTH subscriber needs an ONU serial" }));
  }
  const { service_vlan, inner_vlan, qinq_enabled } = view.network;
  if (qinq_enabled && (service_vlan === null || inner_vlan === null)) {
    return emit(state, "failed", follow(ctx, event, "OnuActivationFailed", {
      onu_serial: view.onu_serial,
      code: "vlan_config_incomplete",
      reason: "QinQ needs both an S-VLAN (service_vlan) and a C-VLAN (inner_vlan)",
    }));
  }
  return {
    kind: "activate",
    request: {
      tenant: view.tenant_id,
      subscriberId: view.subscriber_id,
      serial: view.onu_serial,
      sVlan: service_vlan,
      // Single tagging unless QinQ: an inner VLAN on a single-tagged profile is not sent to the OLT.
      cVlan: qinq_enabled ? inner_vlan : null,
      bandwidthMbps: view.bandwidth_mbps,
    },
  };
}

function onPlanChange(view: SubscriberView, state: OltState, bandwidthMbps: number, revertsOrderId: string | null): OltDecision {
  if (!isFtth(view.connection_type)) return nothing(`connection type ${view.connection_type} has no ONU`);
  const phase = phaseOf(view);
  if (phase === "terminating" || phase === "archived") return nothing(`subscriber is ${phase}`);
  const onuId = view.onu_id;
  const serial = state.activation?.onu_serial ?? view.onu_serial;
  if (!onuId || !serial || state.deactivated) return nothing("no active ONU: nothing to change");
  return {
    kind: "set-bandwidth",
    request: { tenant: view.tenant_id, subscriberId: view.subscriber_id, serial, onuId, bandwidthMbps, revertsOrderId },
  };
}

/** The service flow follows the new bandwidth → OnuBandwidthChanged. */
export function bandwidthChanged(state: OltState, req: BandwidthRequest, cause: Message, ctx: EventContext): Emit {
  const activation = state.activation ? { ...state.activation, bandwidth_mbps: req.bandwidthMbps } : null;
  return {
    events: [follow(ctx, cause, "OnuBandwidthChanged", { onu_id: req.onuId, bandwidth_mbps: req.bandwidthMbps, reverts_order_id: req.revertsOrderId })],
    state: { ...state, activation },
  };
}

/** The OLT refused the bandwidth: the flow keeps its own → OnuBandwidthChangeFailed. */
export function bandwidthRefused(state: OltState, req: BandwidthRequest, failure: { code: string; reason: string }, cause: Message, ctx: EventContext): Emit {
  const data = { onu_id: req.onuId, bandwidth_mbps: req.bandwidthMbps, code: failure.code, reason: failure.reason, reverts_order_id: req.revertsOrderId };
  return { events: [follow(ctx, cause, "OnuBandwidthChangeFailed", data)], state };
}

function emit(state: OltState, outcome: OltState["outcome"], message: Message): OltDecision {
  return { kind: "emit", events: [message], state: { ...state, outcome } };
}

export function activated(
  state: OltState,
  req: ActivationRequest,
  placement: { onuId: string; oltId: string; ponPort: string },
  cause: Message,
  ctx: EventContext,
): Emit {
  const activation: Activation = {
    onu_id: placement.onuId,
    onu_serial: req.serial,
    olt_id: placement.oltId,
    pon_port: placement.ponPort,
    s_vlan: req.sVlan,
    c_vlan: req.cVlan,
    bandwidth_mbps: req.bandwidthMbps,
  };
  return { events: [follow(ctx, cause, "OnuActivated", activation)], state: { ...state, outcome: "activated", activation } };
}

export function refused(state: OltState, req: ActivationRequest, failure: { code: string; reason: string }, cause: Message, ctx: EventContext): Emit {
  return {
    events: [follow(ctx, cause, "OnuActivationFailed", { onu_serial: req.serial, code: failure.code, reason: failure.reason })],
    state: { ...state, outcome: "failed" },
  };
}

export function deactivated(state: OltState, req: DeactivationRequest, cause: Message, ctx: EventContext): Emit {
  return {
    events: [follow(ctx, cause, "OnuDeactivated", { onu_id: req.onuId, onu_serial: req.serial, reason: req.reason })],
    state: { ...state, deactivated: true, deactivation_failed: false },
  };
}

/** The OLT would not remove the flow → OnuDeactivationFailed; the part stays until a retry. */
export function deactivationRefused(state: OltState, req: DeactivationRequest, failure: { code: string; reason: string }, cause: Message, ctx: EventContext): Emit {
  const data = { onu_id: req.onuId, onu_serial: req.serial, purpose: req.reason, code: failure.code, reason: failure.reason };
  return { events: [follow(ctx, cause, "OnuDeactivationFailed", data)], state: { ...state, deactivation_failed: true } };
}

/** "100" for single tagging, "100/1000" for QinQ (S-VLAN/C-VLAN), "none" without a VLAN. */
export const vlanLabel = (sVlan: number | null, cVlan: number | null): string =>
  sVlan === null ? "none" : cVlan === null ? String(sVlan) : `${sVlan}/${cVlan}`;
