// Billing's decisions, given / when / then.
import { describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { decide, initialBillingState, type BillingState, type Price } from "./decide.js";
import {
  billingServiceCreated,
  onuActivated,
  onuActivationSkipped,
  onuDeactivated,
  provisioningFailed,
  radiusAccountCreated,
  subscriberCreated,
  testCtx,
  viewOf,
} from "../../test/support/story.js";

const eur: Price = { monthly_price_cents: 3990, currency: "EUR" };

const whenGiven = (history: readonly Message[], when: Message, price: Price | null = eur, state: BillingState = initialBillingState) =>
  decide(viewOf([...history, when]), state, when, price, testCtx("billing"));

const created: BillingState = { outcome: "created", service_id: "bill-1", cancelled: false };
const upToOnu = [subscriberCreated(), radiusAccountCreated()];

describe("billing service record", () => {
  it("records the plan, status active, when the ONU is activated", () => {
    const trigger = onuActivated();
    const d = whenGiven(upToOnu, trigger);
    expect(d.events).toEqual([
      {
        type: "BillingServiceCreated",
        meta: {
          event_id: "id-2",
          occurred_at: 1_800_000_000_000,
          tenant_id: "tenant-a",
          subscriber_id: "sub-1",
          correlation_id: "order-1",
          causation_id: trigger.meta.event_id,
          producer: "billing",
        },
        data: { service_id: "id-1", service_plan_id: "fiber-100", status: "active" },
      },
    ]);
    expect(d.effects).toEqual([
      { kind: "create-service", service_id: "id-1", tenant_id: "tenant-a", subscriber_id: "sub-1", plan_id: "fiber-100", price: eur, started_at: 1_800_000_000_000 },
    ]);
    expect(d.state).toEqual({ outcome: "created", service_id: "id-1", cancelled: false });
  });

  it("records the plan too when activation was skipped (not FTTH)", () => {
    const d = whenGiven([subscriberCreated({ connection_type: "wireless", onu_serial: null }), radiusAccountCreated()], onuActivationSkipped());
    expect(d.events.map((e) => e.type)).toEqual(["BillingServiceCreated"]);
  });

  it("fails with price_not_configured when the tenant has no price for the plan", () => {
    const d = whenGiven(upToOnu, onuActivated(), null);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([
      ["BillingServiceCreationFailed", { code: "price_not_configured", reason: "no price configured for plan fiber-100 of tenant tenant-a" }],
    ]);
    expect(d.effects).toEqual([]);
    expect(d.state.outcome).toBe("failed");
  });

  it("records once: a second trigger changes nothing", () => {
    const d = whenGiven([...upToOnu, onuActivated()], onuActivated(), eur, created);
    expect(d).toEqual({ events: [], effects: [], state: created });
  });

  it("does nothing when provisioning failed before its turn came", () => {
    const d = whenGiven([...upToOnu, provisioningFailed("deadline")], onuActivated());
    expect(d.events).toEqual([]);
    expect(d.effects).toEqual([]);
  });
});

describe("compensation", () => {
  const history = [...upToOnu, onuActivated(), billingServiceCreated()];

  it("cancels its record first after a failure: BillingServiceCancelled with reason rollback", () => {
    const d = whenGiven(history, provisioningFailed("subscriber"), null, created);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingServiceCancelled", { service_id: "bill-1", reason: "rollback" }]]);
    expect(d.effects).toEqual([{ kind: "cancel-service", tenant_id: "tenant-a", service_id: "bill-1", ended_at: 1_800_000_000_000 }]);
    expect(d.state.cancelled).toBe(true);
  });

  it("cancels a success that arrived after the failure, once its own BillingServiceCreated is folded", () => {
    const d = whenGiven([...upToOnu, onuActivated(), provisioningFailed("deadline")], billingServiceCreated(), null, created);
    expect(d.events.map((e) => e.type)).toEqual(["BillingServiceCancelled"]);
  });

  it("cancels once", () => {
    const d = whenGiven([...history, provisioningFailed()], onuDeactivated(), null, { ...created, cancelled: true });
    expect(d.events).toEqual([]);
  });

  it("has nothing to undo when its creation failed", () => {
    const d = whenGiven([...upToOnu, onuActivated()], provisioningFailed("billing"), null, { ...initialBillingState, outcome: "failed" });
    expect(d.events).toEqual([]);
  });
});
