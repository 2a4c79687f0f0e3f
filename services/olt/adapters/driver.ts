// The OLT driver interface: how the olt service reaches an OLT. The simulated OLT
// (simulated.ts) is the default implementation; VOLTHA would be a second implementation of this
// same interface (its gRPC/REST northbound API), selected by OLT_DRIVER once it exists.
//
// Every operation is idempotent per (tenant, serial, subscriber): a handler that is retried after
// the driver already acted gets the same result again, not a second flow.
//
// Errors: OltRefusedError is a business outcome (the OLT said no: serial not discovered, an
// injected failure, ...) and becomes OnuActivationFailed. Any other thrown error is transient
// (OLT unreachable, database down): the handler rethrows it and the message is retried.

export interface ActivateOnu {
  readonly tenant: string;
  readonly serial: string;
  /** Outer VLAN (S-VLAN); null when the subscriber has none. */
  readonly sVlan: number | null;
  /** Inner VLAN (C-VLAN); only with QinQ. */
  readonly cVlan: number | null;
  readonly bandwidthMbps: number;
  readonly subscriberId: string;
}

export interface OnuPlacement {
  readonly onuId: string;
  readonly oltId: string;
  readonly ponPort: string;
}

export interface DeactivateOnu {
  readonly tenant: string;
  readonly serial: string;
  readonly subscriberId: string;
}

export interface SetBandwidth {
  readonly tenant: string;
  readonly serial: string;
  readonly subscriberId: string;
  readonly bandwidthMbps: number;
}

export type RefusalCode = "onu_not_discovered" | "injected_failure" | "onu_in_use" | "no_service_flow" | "vlan_in_use";

/** The OLT refused the operation for a reason that retrying will not change. */
export class OltRefusedError extends Error {
  constructor(
    readonly code: RefusalCode,
    readonly reason: string,
  ) {
    super(`${code}: ${reason}`);
    this.name = "OltRefusedError";
  }
}

/** The OLT could not be reached or failed for now; the caller retries. */
export class OltUnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "OltUnavailableError";
  }
}

export interface OltDriver {
  /** Provisions the service flow and brings the ONU up. Same subscriber again: same placement. */
  activate(req: ActivateOnu): Promise<OnuPlacement>;
  /** Removes the subscriber's service flow; the ONU goes back to discovered. Nothing there: null. */
  deactivate(req: DeactivateOnu): Promise<{ readonly onuId: string } | null>;
  /** Changes the bandwidth of the subscriber's service flow. */
  setBandwidth(req: SetBandwidth): Promise<OnuPlacement>;
}
