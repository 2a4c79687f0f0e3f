// The rules of the simulated OLT, given / when / then.
import { describe, expect, it } from "vitest";
import { injectionFires, nextOnuNumber, planActivation, planDeactivation, planSetBandwidth, type SimFlow, type SimOnu } from "./decide-sim.js";

const onu: SimOnu = { serial: "ALCL1", oltId: "olt-1", ponPort: "0/1/1", onuId: "olt-1:0/1/1:1", state: "discovered" };
const req = { serial: "ALCL1", subscriberId: "sub-1", sVlan: 100, cVlan: 1000, bandwidthMbps: 100 };
const flow: SimFlow = { subscriberId: "sub-1", sVlan: 100, cVlan: 1000, bandwidthMbps: 100 };
const placement = { onuId: "olt-1:0/1/1:1", oltId: "olt-1", ponPort: "0/1/1" };

describe("failure injection", () => {
  it("a permanent injection fires every time and stays", () => {
    expect(injectionFires({ error: "LOS", remaining: 0, permanent: true })).toEqual({ fires: true, error: "LOS", remainingAfter: "permanent" });
  });
  it("a counted injection fires and counts down", () => {
    expect(injectionFires({ error: "LOS", remaining: 2, permanent: false })).toEqual({ fires: true, error: "LOS", remainingAfter: 1 });
  });
  it("a spent injection no longer fires", () => {
    expect(injectionFires({ error: "LOS", remaining: 0, permanent: false })).toEqual({ fires: false });
    expect(injectionFires(null)).toEqual({ fires: false });
  });
});

describe("activation on the simulated OLT", () => {
  it("refuses a serial that is not discovered on any PON port", () => {
    expect(planActivation(null, null, null, req)).toMatchObject({ kind: "refuse", code: "onu_not_discovered" });
  });

  it("refuses with the injected error when a failure is injected for activate", () => {
    const plan = planActivation(onu, null, { error: "LOS on PON port", remaining: 1, permanent: false }, req);
    expect(plan).toEqual({ kind: "refuse", code: "injected_failure", reason: "LOS on PON port", injection: { fires: true, error: "LOS on PON port", remainingAfter: 0 } });
  });

  it("provisions a QinQ flow with S-VLAN, C-VLAN and bandwidth on a discovered ONU", () => {
    expect(planActivation(onu, null, null, req)).toEqual({ kind: "provision", placement, flow });
  });

  it("answers a retry for the same subscriber and flow with the same placement (idempotent), injection or not", () => {
    const active = { ...onu, state: "active" as const };
    expect(planActivation(active, flow, { error: "LOS", remaining: 0, permanent: true }, req)).toEqual({ kind: "already-active", placement });
  });

  it("refuses an ONU that carries another subscriber's flow", () => {
    const active = { ...onu, state: "active" as const };
    expect(planActivation(active, { ...flow, subscriberId: "sub-2" }, null, req)).toMatchObject({ kind: "refuse", code: "onu_in_use" });
  });

  it("refuses a QinQ pair another subscriber's flow carries on the same OLT (vlan_in_use); a single-tagged VLAN may be shared", () => {
    const qinq = { ...req, sVlan: 100, cVlan: 1000 };
    expect(planActivation(onu, null, null, qinq, "sub-9")).toMatchObject({ kind: "refuse", code: "vlan_in_use" });
    expect(planActivation(onu, null, null, { ...req, sVlan: 100, cVlan: null }, "sub-9")).toMatchObject({ kind: "provision" });
  });
});

describe("deactivation on the simulated OLT", () => {
  it("removes the subscriber's flow", () => {
    expect(planDeactivation({ ...onu, state: "active" }, flow, null, "sub-1")).toEqual({ kind: "remove", onuId: onu.onuId });
  });
  it("has nothing to remove when the flow is gone already (a retry) or belongs to someone else", () => {
    expect(planDeactivation(onu, null, null, "sub-1")).toEqual({ kind: "nothing-to-remove" });
    expect(planDeactivation(onu, { ...flow, subscriberId: "sub-2" }, null, "sub-1")).toEqual({ kind: "nothing-to-remove" });
  });
  it("fails while a deactivate failure is injected", () => {
    expect(planDeactivation(onu, flow, { error: "OLT busy", remaining: 1, permanent: false }, "sub-1")).toMatchObject({ kind: "fail", error: "OLT busy" });
  });
});

describe("bandwidth change on the simulated OLT", () => {
  it("sets the bandwidth of the subscriber's flow", () => {
    expect(planSetBandwidth(onu, flow, null, { serial: "ALCL1", subscriberId: "sub-1", bandwidthMbps: 500 })).toEqual({ kind: "set", placement });
  });
  it("refuses when the subscriber has no flow on the ONU", () => {
    expect(planSetBandwidth(onu, null, null, { serial: "ALCL1", subscriberId: "sub-1", bandwidthMbps: 500 })).toMatchObject({ kind: "refuse", code: "no_service_flow" });
  });
});

describe("ONU numbers at discovery", () => {
  it("hands out the lowest free number on the port", () => {
    expect(nextOnuNumber([])).toBe(1);
    expect(nextOnuNumber([1, 2, 4])).toBe(3);
  });
  it("has none left on a full port", () => {
    expect(nextOnuNumber(Array.from({ length: 128 }, (_, i) => i + 1))).toBeNull();
  });
});
