// The rules of the simulated OLT, pure: what an OLT does with an activation or a deactivation
// given its ONU, the ONU's service flow and any failure injected for the operation. The adapter
// (adapters/simulated.ts) loads the rows, asks these rules, and writes what they say.
import type { RefusalCode } from "./adapters/driver.js";

export interface SimOnu {
  readonly serial: string;
  readonly oltId: string;
  readonly ponPort: string;
  readonly onuId: string;
  readonly state: "discovered" | "active";
}

export interface SimFlow {
  readonly subscriberId: string;
  readonly sVlan: number | null;
  readonly cVlan: number | null;
  readonly bandwidthMbps: number;
}

export interface SimInjection {
  readonly error: string;
  readonly remaining: number;
  readonly permanent: boolean;
}

export interface SimRequest {
  readonly serial: string;
  readonly subscriberId: string;
  readonly sVlan: number | null;
  readonly cVlan: number | null;
  readonly bandwidthMbps: number;
}

/** Whether an injected failure fires now, and what is left of it afterwards. */
export type InjectionOutcome =
  | { readonly fires: false }
  | { readonly fires: true; readonly error: string; readonly remainingAfter: number | "permanent" };

export function injectionFires(injection: SimInjection | null): InjectionOutcome {
  if (!injection) return { fires: false };
  if (injection.permanent) return { fires: true, error: injection.error, remainingAfter: "permanent" };
  if (injection.remaining <= 0) return { fires: false };
  return { fires: true, error: injection.error, remainingAfter: injection.remaining - 1 };
}

const placementOf = (onu: SimOnu) => ({ onuId: onu.onuId, oltId: onu.oltId, ponPort: onu.ponPort });

export type ActivationPlan =
  | { readonly kind: "refuse"; readonly code: RefusalCode; readonly reason: string; readonly injection: InjectionOutcome }
  | { readonly kind: "already-active"; readonly placement: ReturnType<typeof placementOf> }
  | { readonly kind: "provision"; readonly placement: ReturnType<typeof placementOf>; readonly flow: SimFlow };

/**
 * `vlanHolder`: another subscriber whose flow on the same OLT carries the request's QinQ pair (an
 * OLT keeps S-VLAN / C-VLAN pairs apart, whatever the profile service could check), or null.
 */
export function planActivation(onu: SimOnu | null, flow: SimFlow | null, injection: SimInjection | null, req: SimRequest, vlanHolder: string | null = null): ActivationPlan {
  const none: InjectionOutcome = { fires: false };
  if (!onu) {
    return { kind: "refuse", code: "onu_not_discovered", reason: `ONU ${req.serial} is not discovered on any PON port`, injection: none };
  }
  const wanted: SimFlow = { subscriberId: req.subscriberId, sVlan: req.sVlan, cVlan: req.cVlan, bandwidthMbps: req.bandwidthMbps };
  // A retry after the OLT already acted: the same flow, the same answer.
  if (onu.state === "active" && flow && sameFlow(flow, wanted)) return { kind: "already-active", placement: placementOf(onu) };
  if (flow && flow.subscriberId !== req.subscriberId) {
    return { kind: "refuse", code: "onu_in_use", reason: `ONU ${req.serial} already carries another subscriber's service`, injection: none };
  }
  if (vlanHolder !== null && req.cVlan !== null) {
    return { kind: "refuse", code: "vlan_in_use", reason: `QinQ VLAN pair ${req.sVlan}/${req.cVlan} already carries subscriber ${vlanHolder}'s service on OLT ${onu.oltId}`, injection: none };
  }
  const injected = injectionFires(injection);
  if (injected.fires) return { kind: "refuse", code: "injected_failure", reason: injected.error, injection: injected };
  return { kind: "provision", placement: placementOf(onu), flow: wanted };
}

const sameFlow = (a: SimFlow, b: SimFlow): boolean =>
  a.subscriberId === b.subscriberId && a.sVlan === b.sVlan && a.cVlan === b.cVlan && a.bandwidthMbps === b.bandwidthMbps;

export type DeactivationPlan =
  | { readonly kind: "nothing-to-remove" }
  | { readonly kind: "fail"; readonly error: string; readonly injection: InjectionOutcome }
  | { readonly kind: "remove"; readonly onuId: string };

/** Removing a flow that is not there (a retry, or never activated) is a success with nothing to do. */
export function planDeactivation(onu: SimOnu | null, flow: SimFlow | null, injection: SimInjection | null, subscriberId: string): DeactivationPlan {
  if (!onu || !flow || flow.subscriberId !== subscriberId) return { kind: "nothing-to-remove" };
  const injected = injectionFires(injection);
  if (injected.fires) return { kind: "fail", error: injected.error, injection: injected };
  return { kind: "remove", onuId: onu.onuId };
}

export type BandwidthPlan =
  | { readonly kind: "refuse"; readonly code: RefusalCode; readonly reason: string; readonly injection: InjectionOutcome }
  | { readonly kind: "set"; readonly placement: ReturnType<typeof placementOf> };

export function planSetBandwidth(onu: SimOnu | null, flow: SimFlow | null, injection: SimInjection | null, req: Omit<SimRequest, "sVlan" | "cVlan">): BandwidthPlan {
  const none: InjectionOutcome = { fires: false };
  if (!onu) return { kind: "refuse", code: "onu_not_discovered", reason: `ONU ${req.serial} is not discovered on any PON port`, injection: none };
  if (!flow || flow.subscriberId !== req.subscriberId) {
    return { kind: "refuse", code: "no_service_flow", reason: `ONU ${req.serial} carries no service flow of this subscriber`, injection: none };
  }
  if (flow.bandwidthMbps === req.bandwidthMbps) return { kind: "set", placement: placementOf(onu) };
  const injected = injectionFires(injection);
  if (injected.fires) return { kind: "refuse", code: "injected_failure", reason: injected.error, injection: injected };
  return { kind: "set", placement: placementOf(onu) };
}

/** ONU numbers an OLT hands out per PON port at discovery (GPON: up to 128). */
export const maxOnusPerPort = 128;

export function nextOnuNumber(taken: readonly number[]): number | null {
  const used = new Set(taken);
  for (let n = 1; n <= maxOnusPerPort; n++) if (!used.has(n)) return n;
  return null;
}

/** PON port names as an OLT shows them: frame/slot/port, e.g. 0/1/3. */
export const isPonPort = (port: string): boolean => /^\d{1,2}\/\d{1,2}\/\d{1,3}$/.test(port);
