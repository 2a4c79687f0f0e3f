// Billing's decisions, given / when / then.
import { describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { decide, initialBillingState, type BillingState, type Price } from "./decide.js";
import {
  billingServiceCreated,
  event,
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
    expect(d.state).toEqual({ outcome: "created", service_id: "id-1", cancelled: false, status: "active", period_start: "2027-01-15" });
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

describe("suspend and resume", () => {
  const active = [...upToOnu, onuActivated(), billingServiceCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
  const suspendRequested = () => event("SubscriberSuspendRequested", { order_id: "order-2", reason: "non-payment", network_profile_id: null, network: null });
  const resumeRequested = () => event("SubscriberResumeRequested", { order_id: "order-3" });

  it("pauses billing on SubscriberSuspendRequested", () => {
    const d = whenGiven(active, suspendRequested(), null, { ...created, status: "active" });
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingServiceSuspended", { service_id: "bill-1" }]]);
    expect(d.effects).toEqual([{ kind: "set-status", tenant_id: "tenant-a", service_id: "bill-1", status: "suspended" }]);
    expect(d.state.status).toBe("suspended");
  });

  it("does not suspend twice", () => {
    expect(whenGiven(active, suspendRequested(), null, { ...created, status: "suspended" }).events).toEqual([]);
  });

  it("resumes billing on SubscriberResumeRequested when suspended", () => {
    const d = whenGiven([...active, suspendRequested()], resumeRequested(), null, { ...created, status: "suspended" });
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingServiceResumed", { service_id: "bill-1" }]]);
    expect(d.effects).toEqual([{ kind: "set-status", tenant_id: "tenant-a", service_id: "bill-1", status: "active" }]);
  });

  it("does not resume a service that is not suspended", () => {
    expect(whenGiven(active, resumeRequested(), null, created).events).toEqual([]);
  });
});

describe("plan change", () => {
  const active = [...upToOnu, onuActivated(), billingServiceCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
  const planChange = (date = "2026-12-01") => event("SubscriberPlanChangeRequested", { order_id: "order-4", service_plan_id: "fiber-500", bandwidth_mbps: 500, effective_date: date });
  const price500: Price = { monthly_price_cents: 5990, currency: "EUR" };

  it("charges the new plan from the effective date; the old period ends the day before", () => {
    const d = whenGiven(active, planChange(), price500, created);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingPlanChanged", { service_id: "bill-1", service_plan_id: "fiber-500", effective_date: "2026-12-01", reverts_order_id: null }]]);
    expect(d.effects).toEqual([
      { kind: "change-plan", tenant_id: "tenant-a", service_id: "bill-1", plan_id: "fiber-500", price: price500, starts_on: "2026-12-01", previous_ends_on: "2026-11-30" },
    ]);
  });

  const planFailed = () =>
    event("SubscriberPlanChangeFailed", { order_id: "order-4", step: "radius", code: "plan_not_configured", reason: "no rate limit", service_plan_id: "fiber-100", bandwidth_mbps: 100, effective_date: "2026-12-01" });

  it("given it charged the new plan, when the plan change fails elsewhere, then the kept plan is charged again from that date (BillingPlanChanged reverts_order_id)", () => {
    const changed = whenGiven(active, planChange(), price500, created);
    const d = whenGiven([...active, planChange()], planFailed(), eur, changed.state);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingPlanChanged", { service_id: "bill-1", service_plan_id: "fiber-100", effective_date: "2026-12-01", reverts_order_id: "order-4" }]]);
    expect(d.effects).toEqual([
      { kind: "revert-plan", tenant_id: "tenant-a", service_id: "bill-1", plan_id: "fiber-100", price: eur, starts_on: "2026-12-01", previous_ends_on: "2026-11-30" },
    ]);
    expect(whenGiven([...active, planChange(), planFailed()], planFailed(), eur, d.state).events).toEqual([]); // once
  });

  it("given its own change failed, when the plan change fails, then nothing to put back", () => {
    const refused = whenGiven(active, planChange(), null, created);
    expect(whenGiven([...active, planChange()], planFailed(), eur, refused.state)).toMatchObject({ events: [], effects: [] });
  });

  it("refuses a change dated before the plan period charged now (effective_date_before_current_period), and changes nothing", () => {
    const since = { ...created, period_start: "2026-12-10" };
    const d = whenGiven(active, planChange("2026-12-05"), price500, since);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([
      ["BillingPlanChangeFailed", { service_id: "bill-1", service_plan_id: "fiber-500", code: "effective_date_before_current_period", reason: "effective_date 2026-12-05 is before the plan period charged since 2026-12-10; a plan change cannot rewrite what was charged" }],
    ]);
    expect(d.effects).toEqual([]);
    const ok = whenGiven(active, planChange("2026-12-10"), price500, since);
    expect(ok.events.map((e) => e.type)).toEqual(["BillingPlanChanged"]);
    expect(ok.state.period_start).toBe("2026-12-10");
  });

  it("fails with price_not_configured and changes nothing when the new plan has no price", () => {
    const d = whenGiven(active, planChange(), null, created);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([
      ["BillingPlanChangeFailed", { service_id: "bill-1", service_plan_id: "fiber-500", code: "price_not_configured", reason: "no price configured for plan fiber-500 of tenant tenant-a" }],
    ]);
    expect(d.effects).toEqual([]);
  });

  it("applies one plan change order once", () => {
    expect(whenGiven(active, planChange(), price500, { ...created, plan_orders: ["order-4"] }).events).toEqual([]);
  });

  it("refuses an effective date that is not a calendar date", () => {
    expect(() => whenGiven(active, planChange("2026-02-30"), price500, created)).toThrow(/not a YYYY-MM-DD date/);
  });
});

describe("termination (teardown order)", () => {
  const ips = { ipv4: "100.64.0.7", ipv6: null, ipv6_prefix: null, source: "dynamic" };
  const active = [...upToOnu, event("IpAllocated", { ips }), onuActivated(), billingServiceCreated(), event("SubscriberProvisioned", { order_id: "order-1" })];
  const tearing = [
    ...active,
    event("SubscriberTerminationRequested", { order_id: "order-5", reason: null }),
    event("RadiusAccountDeleted", { username: "SUB-000001", reason: "terminated" }),
    event("OnuDeactivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", reason: "terminated" }),
  ];

  it("waits while the IPs are still held", () => {
    expect(whenGiven(tearing.slice(0, -1), tearing.at(-1) as Message, null, created).events).toEqual([]);
  });

  it("terminates the service once RADIUS, ONU and IPs are gone", () => {
    const d = whenGiven(tearing, event("IpReleased", { ips, reason: "terminated" }), null, created);
    expect(d.events.map((e) => [e.type, e.data])).toEqual([["BillingServiceTerminated", { service_id: "bill-1" }]]);
    expect(d.effects).toEqual([{ kind: "terminate-service", tenant_id: "tenant-a", service_id: "bill-1", ended_at: 1_800_000_000_000 }]);
    expect(d.state.status).toBe("terminated");
  });

  it("terminates once", () => {
    expect(whenGiven(tearing, event("IpReleased", { ips, reason: "terminated" }), null, { ...created, status: "terminated" }).events).toEqual([]);
  });
});
