// The olt service's decisions, given / when / then.
import { describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { activated, bandwidthChanged, bandwidthRefused, deactivationRefused, deactivated, decide, initialOltState, refused, type OltState } from "./decide.js";
import {
  billingServiceCancelled,
  billingServiceCreated,
  event,
  network,
  onuActivated,
  onuDeactivated,
  provisioningFailed,
  radiusAccountCreated,
  subscriberCreated,
  testCtx,
  viewOf,
} from "../../test/support/story.js";

const ctx = testCtx("olt");

/** Given `history`, when `when` arrives: the decision (the view already holds `when`, as in the handler). */
const whenGiven = (history: readonly Message[], when: Message, state: OltState = initialOltState) =>
  decide(viewOf([...history, when]), state, when, ctx);

const activatedState: OltState = {
  outcome: "activated",
  deactivated: false,
  activation: { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "0/1/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 },
};

describe("activation on RadiusAccountCreated", () => {
  it("activates the ONU with S-VLAN and C-VLAN when QinQ is enabled", () => {
    const d = whenGiven([subscriberCreated()], radiusAccountCreated());
    expect(d).toEqual({
      kind: "activate",
      request: { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", sVlan: 100, cVlan: 1000, bandwidthMbps: 100 },
    });
  });

  it("sends a single VLAN without QinQ, even when an inner VLAN is set", () => {
    const d = whenGiven([subscriberCreated({ network: network({ qinq_enabled: false, service_vlan: 200, inner_vlan: 55 }) })], radiusAccountCreated());
    expect(d).toMatchObject({ kind: "activate", request: { sVlan: 200, cVlan: null } });
  });

  it("takes the VLANs of the network profile over the order's", () => {
    const profile = event("NetworkProfileCreated", {
      profile: { network_profile_id: "np-1", config: network({ service_vlan: 300, inner_vlan: 3000 }), metadata: {} },
    });
    const d = whenGiven([subscriberCreated(), profile], radiusAccountCreated());
    expect(d).toMatchObject({ kind: "activate", request: { sVlan: 300, cVlan: 3000 } });
  });

  it("skips a non-FTTH connection type with OnuActivationSkipped", () => {
    const trigger = radiusAccountCreated();
    const d = whenGiven([subscriberCreated({ connection_type: "wireless", onu_serial: null })], trigger);
    expect(d.kind).toBe("emit");
    if (d.kind !== "emit") return;
    expect(d.events).toEqual([
      {
        type: "OnuActivationSkipped",
        meta: expect.objectContaining({ causation_id: trigger.meta.event_id, subscriber_id: "sub-1", tenant_id: "tenant-a", producer: "olt" }),
        data: { connection_type: "wireless", reason: "connection type wireless has no ONU to activate" },
      },
    ]);
    expect(d.state.outcome).toBe("skipped");
  });

  it("fails an FTTH subscriber without an ONU serial", () => {
    const d = whenGiven([subscriberCreated({ onu_serial: null })], radiusAccountCreated());
    expect(d).toMatchObject({ kind: "emit", events: [{ type: "OnuActivationFailed", data: { onu_serial: null, code: "onu_serial_missing" } }] });
  });

  it("fails QinQ without a C-VLAN instead of activating half a config", () => {
    const d = whenGiven([subscriberCreated({ network: network({ inner_vlan: null }) })], radiusAccountCreated());
    expect(d).toMatchObject({ kind: "emit", events: [{ type: "OnuActivationFailed", data: { code: "vlan_config_incomplete" } }] });
  });

  it("does nothing when the activation was already decided (a second RadiusAccountCreated)", () => {
    const d = whenGiven([subscriberCreated(), radiusAccountCreated()], radiusAccountCreated(), activatedState);
    expect(d).toEqual({ kind: "nothing", why: "activation already activated" });
  });

  it("does nothing when provisioning failed before its turn came", () => {
    const d = whenGiven([subscriberCreated(), provisioningFailed("radius")], radiusAccountCreated());
    expect(d.kind).toBe("nothing");
  });

  it("ignores events that are not its trigger", () => {
    expect(whenGiven([], subscriberCreated()).kind).toBe("nothing");
  });
});

describe("outcome of the driver", () => {
  const trigger = radiusAccountCreated();
  const req = { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", sVlan: 100, cVlan: 1000, bandwidthMbps: 100 };

  it("an activated ONU becomes OnuActivated with its placement, VLANs and bandwidth", () => {
    const out = activated(initialOltState, req, { onuId: "olt-1:0/1/1:1", oltId: "olt-1", ponPort: "0/1/1" }, trigger, ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([
      ["OnuActivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "0/1/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 }],
    ]);
    expect(out.events[0]?.meta).toMatchObject({ causation_id: trigger.meta.event_id, correlation_id: "order-1", occurred_at: 1_800_000_000_000 });
    expect(out.state).toEqual(activatedState);
  });

  it("a refusal of the OLT becomes OnuActivationFailed with its code and reason", () => {
    const out = refused(initialOltState, req, { code: "injected_failure", reason: "LOS on PON port" }, trigger, ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([
      ["OnuActivationFailed", { onu_serial: "ALCL12345678", code: "injected_failure", reason: "LOS on PON port" }],
    ]);
    expect(out.state.outcome).toBe("failed");
  });
});

describe("compensation (mayCompensate ordering)", () => {
  const happy = [subscriberCreated(), radiusAccountCreated(), onuActivated()];

  it("deactivates once its own OnuActivated is folded after a failure, when billing never succeeded", () => {
    const d = whenGiven([...happy], provisioningFailed("billing"), activatedState);
    expect(d).toEqual({ kind: "deactivate", request: { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", onuId: "olt-1:0/1/1:1", reason: "rollback" } });
  });

  it("deactivates a success that arrived after the failure (its OnuActivated comes later in the partition)", () => {
    const d = whenGiven([subscriberCreated(), radiusAccountCreated(), provisioningFailed("deadline")], onuActivated(), activatedState);
    expect(d.kind).toBe("deactivate");
  });

  it("waits for billing's cancellation when billing had succeeded", () => {
    const history = [...happy, billingServiceCreated()];
    expect(whenGiven(history, provisioningFailed("subscriber"), activatedState).kind).toBe("nothing");
    const d = whenGiven([...history, provisioningFailed("subscriber")], billingServiceCancelled(), activatedState);
    expect(d.kind).toBe("deactivate");
  });

  it("deactivates once: nothing after the deactivation was decided", () => {
    const d = whenGiven([...happy, provisioningFailed()], event("IpReleased", { ips: { ipv4: "100.64.0.7", ipv6: null, ipv6_prefix: null, source: "dynamic" }, reason: "rollback" }), {
      ...activatedState,
      deactivated: true,
    });
    expect(d.kind).toBe("nothing");
  });

  it("has nothing to undo when its activation failed", () => {
    const d = whenGiven([subscriberCreated(), radiusAccountCreated()], provisioningFailed("olt"), { ...initialOltState, outcome: "failed" });
    expect(d.kind).toBe("nothing");
  });

  it("a deactivation becomes OnuDeactivated with reason rollback", () => {
    const cause = provisioningFailed();
    const out = deactivated(activatedState, { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", onuId: "olt-1:0/1/1:1", reason: "rollback" }, cause, ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([["OnuDeactivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", reason: "rollback" }]]);
    expect(out.state.deactivated).toBe(true);
  });
});

describe("termination (teardown order)", () => {
  const active = [subscriberCreated(), radiusAccountCreated(), onuActivated(), billingServiceCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
  const terminationRequested = () => event("SubscriberTerminationRequested", { order_id: "order-2", reason: null });
  const radiusDeleted = () => event("RadiusAccountDeleted", { username: "SUB-000001", reason: "terminated" });

  it("waits while the RADIUS account still exists", () => {
    expect(whenGiven(active, terminationRequested(), activatedState).kind).toBe("nothing");
  });

  it("deactivates the ONU with reason terminated once the RADIUS account is gone", () => {
    const d = whenGiven([...active, terminationRequested()], radiusDeleted(), activatedState);
    expect(d).toEqual({ kind: "deactivate", request: { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", onuId: "olt-1:0/1/1:1", reason: "terminated" } });
    if (d.kind !== "deactivate") return;
    const out = deactivated(activatedState, d.request, radiusDeleted(), ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([["OnuDeactivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", reason: "terminated" }]]);
  });

  it("announces OnuDeactivationFailed when the OLT refuses, and tries again only on a new termination order", () => {
    const d = whenGiven([...active, terminationRequested()], radiusDeleted(), activatedState);
    if (d.kind !== "deactivate") throw new Error(d.kind);
    const out = deactivationRefused(activatedState, d.request, { code: "injected_failure", reason: "OLT busy" }, radiusDeleted(), ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([
      ["OnuDeactivationFailed", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", purpose: "terminated", code: "injected_failure", reason: "OLT busy" }],
    ]);
    const history = [...active, terminationRequested(), radiusDeleted(), out.events[0] as Message];
    const later = event("SubscriberTeardownFailed", { order_id: "order-2", step: "olt", code: "injected_failure", reason: "OLT busy", remaining: ["olt"] });
    expect(whenGiven(history, later, out.state).kind).toBe("nothing");
    const retry = event("SubscriberTerminationRequested", { order_id: "order-3", reason: null });
    expect(whenGiven(history, retry, out.state)).toMatchObject({ kind: "deactivate", request: { reason: "terminated" } });
  });

  it("deactivates once: nothing once the deactivation was decided", () => {
    expect(whenGiven([...active, terminationRequested()], radiusDeleted(), { ...activatedState, deactivated: true }).kind).toBe("nothing");
  });

  it("has nothing to tear down for a subscriber without an ONU", () => {
    const wireless = [subscriberCreated({ connection_type: "wireless", onu_serial: null }), radiusAccountCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
    expect(whenGiven([...wireless, terminationRequested()], radiusDeleted()).kind).toBe("nothing");
  });
});

describe("plan change: the ONU bandwidth follows", () => {
  const active = [subscriberCreated(), radiusAccountCreated(), onuActivated(), event("SubscriberProvisioned", { order_id: "order-1" })];
  const planChange = () => event("SubscriberPlanChangeRequested", { order_id: "order-3", service_plan_id: "fiber-500", bandwidth_mbps: 500, effective_date: "2026-12-01" });

  it("sets the new bandwidth on an active ONU and announces OnuBandwidthChanged", () => {
    const m = planChange();
    const d = whenGiven(active, m, activatedState);
    expect(d).toEqual({ kind: "set-bandwidth", request: { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", onuId: "olt-1:0/1/1:1", bandwidthMbps: 500, revertsOrderId: null } });
    if (d.kind !== "set-bandwidth") return;
    const out = bandwidthChanged(activatedState, d.request, m, ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([["OnuBandwidthChanged", { onu_id: "olt-1:0/1/1:1", bandwidth_mbps: 500, reverts_order_id: null }]]);
    expect(out.state.activation?.bandwidth_mbps).toBe(500);
  });

  it("announces OnuBandwidthChangeFailed when the OLT refuses, and keeps the bandwidth it had", () => {
    const m = planChange();
    const d = whenGiven(active, m, activatedState);
    if (d.kind !== "set-bandwidth") throw new Error(d.kind);
    const out = bandwidthRefused(activatedState, d.request, { code: "injected_failure", reason: "no" }, m, ctx);
    expect(out.events.map((e) => [e.type, e.data])).toEqual([["OnuBandwidthChangeFailed", { onu_id: "olt-1:0/1/1:1", bandwidth_mbps: 500, code: "injected_failure", reason: "no", reverts_order_id: null }]]);
    expect(out.state).toBe(activatedState);
  });

  const planFailed = () =>
    event("SubscriberPlanChangeFailed", { order_id: "order-3", step: "billing", code: "price_not_configured", reason: "no price", service_plan_id: "fiber-100", bandwidth_mbps: 100, effective_date: "2026-12-01" });

  it("puts the kept bandwidth back when the plan change it followed failed elsewhere", () => {
    const moved: OltState = { ...activatedState, activation: activatedState.activation ? { ...activatedState.activation, bandwidth_mbps: 500 } : null };
    const d = whenGiven([...active, planChange()], planFailed(), moved);
    expect(d).toEqual({ kind: "set-bandwidth", request: { tenant: "tenant-a", subscriberId: "sub-1", serial: "ALCL12345678", onuId: "olt-1:0/1/1:1", bandwidthMbps: 100, revertsOrderId: "order-3" } });
  });

  it("has nothing to put back when the ONU never left the kept bandwidth", () => {
    expect(whenGiven([...active, planChange()], planFailed(), activatedState).kind).toBe("nothing");
  });

  it("does nothing for a subscriber without an ONU", () => {
    const wireless = [subscriberCreated({ connection_type: "wireless", onu_serial: null }), radiusAccountCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
    expect(whenGiven(wireless, planChange()).kind).toBe("nothing");
  });

  it("does nothing for an ONU already deactivated", () => {
    expect(whenGiven([...active, onuDeactivated()], planChange(), { ...activatedState, deactivated: true }).kind).toBe("nothing");
  });
});
