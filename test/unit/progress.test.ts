// Compensation order without an orchestrator: given the lifecycle events a service has seen,
// when may it undo its own step?
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { evolveProgress, initialProgress, mayCompensate, pendingCompensations, rolledBack, type Progress } from "../../shared/progress.js";

let n = 0;
const ev = <K extends EventName>(type: K, data: Partial<EventData<K>> = {}): Message =>
  ({
    type,
    meta: { event_id: `e${++n}`, occurred_at: n, tenant_id: "t", subscriber_id: "s", correlation_id: "o", causation_id: null, producer: "test" },
    data,
  }) as unknown as Message;

const given = (...events: Message[]): Progress => events.reduce(evolveProgress, initialProgress);
const failed = ev("SubscriberProvisioningFailed", { order_id: "o", step: "olt", reason: "LOS" });

describe("compensation order", () => {
  it("nothing is compensated while provisioning has not failed", () => {
    const p = given(ev("NetworkProfileCreated"), ev("IpAllocated"));
    expect(mayCompensate(p, "ipam")).toBe(false);
    expect(mayCompensate(p, "profile")).toBe(false);
  });

  it("after a failure at olt, radius undoes first, then ipam, then profile", () => {
    let p = given(ev("NetworkProfileCreated"), ev("IpAllocated"), ev("RadiusAccountCreated"), failed);
    expect(["profile", "ipam", "radius", "olt", "billing"].filter((s) => mayCompensate(p, s as never))).toEqual(["radius"]);
    p = evolveProgress(p, ev("RadiusAccountDeleted"));
    expect(mayCompensate(p, "ipam")).toBe(true);
    expect(mayCompensate(p, "profile")).toBe(false);
    p = evolveProgress(p, ev("IpReleased"));
    expect(mayCompensate(p, "profile")).toBe(true);
    expect(rolledBack(p)).toBe(false);
    p = evolveProgress(p, ev("NetworkProfileDeleted"));
    expect(rolledBack(p)).toBe(true);
  });

  it("a step that failed or never ran has nothing to undo", () => {
    const p = given(ev("NetworkProfileCreated"), ev("IpAllocated"), ev("RadiusAccountCreated"), failed);
    expect(mayCompensate(p, "olt")).toBe(false);
    expect(mayCompensate(p, "billing")).toBe(false);
  });

  it("a skipped profile needs no compensation, so ipam goes last", () => {
    const p = given(ev("NetworkProfileSkipped"), ev("IpAllocated"), ev("IpAllocationFailed"), failed, ev("IpReleased"));
    expect(rolledBack(p)).toBe(true);
  });

  it("a success that arrives after the failure joins the steps to undo", () => {
    let p = given(ev("NetworkProfileCreated"), ev("IpAllocated"), failed);
    expect(pendingCompensations(p)).toEqual(["ipam", "profile"]);
    p = evolveProgress(p, ev("RadiusAccountCreated"));
    expect(pendingCompensations(p)).toEqual(["radius", "ipam", "profile"]);
    expect(mayCompensate(p, "ipam")).toBe(false);
    expect(mayCompensate(p, "radius")).toBe(true);
  });

  it("a failure with nothing done is rolled back at once", () => {
    expect(rolledBack(given(failed))).toBe(true);
  });

  it("the first failure is the one kept, and a provisioned subscriber does not fail later", () => {
    const p = given(failed, ev("SubscriberProvisioningFailed", { order_id: "o", step: "billing", reason: "x" }));
    expect(p.failure).toEqual({ step: "olt", reason: "LOS" });
    expect(given(ev("SubscriberProvisioned"), failed).failure).toBeNull();
  });

  it("redelivered events change nothing", () => {
    const once = given(ev("NetworkProfileCreated"), failed);
    expect(evolveProgress(evolveProgress(once, ev("NetworkProfileCreated")), failed)).toEqual(once);
  });
});
