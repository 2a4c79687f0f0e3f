// The radius decisions for suspend, resume, plan change and termination: given / when / then.
import { describe, expect, it } from "vitest";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";
import { decidePlanChange, decideResume, decideSuspend, decideTermination, type AccountState } from "./decide.js";

const ctx: EventContext = { producer: "radius", now: () => 1_700_000_000_000, newId: () => "evt-new" };
let seq = 0;
const event = <K extends EventName>(type: K, data: EventData<K>): Message<K> =>
  ({
    type,
    meta: { event_id: `evt-${++seq}`, occurred_at: 1, tenant_id: "acme", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: null, producer: "test" },
    data,
  }) as Message<K>;

const network: FiberNetworkConfig = {
  service_vlan: 100,
  inner_vlan: 1000,
  qinq_enabled: true,
  vlan_pool: null,
  circuit_id: null,
  remote_id: null,
  option82_policy: "log",
  static_ipv4: null,
  static_ipv6: null,
  delegated_ipv6_prefix: null,
  ipv6_pd_size: null,
  ipv6_assignment_mode: "dual_stack",
  ipv4_pool: null,
  ipv6_pool: null,
  ipv6_pd_pool: null,
};

const active: AccountState = { username: "sub-1@acme", status: "active", planGroup: "acme:fiber-100", suspendMode: null };
const suspendReq = () => event("SubscriberSuspendRequested", { order_id: "o-s", reason: null, network_profile_id: "np-1", network });
const resumeReq = () => event("SubscriberResumeRequested", { order_id: "o-r" });
const planReq = (plan: string) => event("SubscriberPlanChangeRequested", { order_id: "o-m", service_plan_id: plan, bandwidth_mbps: 500, effective_date: "2026-12-01" });
const reject = { mode: "reject", walledGardenGroup: null } as const;
const walled = { mode: "walled_garden", walledGardenGroup: "acme:wg" } as const;

describe("suspend", () => {
  it("reject policy: refuses the account and cuts the session with a Disconnect-Request", () => {
    const d = decideSuspend(active, reject, [], suspendReq(), ctx);
    expect(d).toMatchObject({ kind: "suspend", mode: "reject", group: null, coa: { kind: "disconnect", attributes: {} } });
    if (d.kind === "suspend") expect(d.events[0].data).toEqual({ username: "sub-1@acme", mode: "reject" });
  });

  it("walled_garden policy: moves the account to the group and sends a CoA with the group's attributes", () => {
    const d = decideSuspend(active, walled, [{ attribute: "Mikrotik-Rate-Limit", op: ":=", value: "1M/1M" }, { attribute: "Class", op: ":=", value: "x" }], suspendReq(), ctx);
    expect(d).toMatchObject({ kind: "suspend", mode: "walled_garden", group: "acme:wg", coa: { kind: "coa", attributes: { "Mikrotik-Rate-Limit": "1M/1M" } } });
  });

  it("an account already suspended (a redelivered order) is not suspended twice", () => {
    expect(decideSuspend({ ...active, status: "suspended", suspendMode: "reject" }, reject, [], suspendReq(), ctx).kind).toBe("skip");
  });

  it("no account, or a deleted one: nothing to suspend", () => {
    expect(decideSuspend(null, reject, [], suspendReq(), ctx).kind).toBe("skip");
    expect(decideSuspend({ ...active, status: "deleted" }, reject, [], suspendReq(), ctx).kind).toBe("skip");
  });
});

describe("resume", () => {
  it("undoes a reject suspension without a CoA (the session was cut)", () => {
    const d = decideResume({ ...active, status: "suspended", suspendMode: "reject" }, [], resumeReq(), ctx);
    expect(d).toMatchObject({ kind: "resume", mode: "reject", planGroup: "acme:fiber-100", coa: null });
  });

  it("undoes a walled garden with a CoA carrying the plan's rate limit", () => {
    const d = decideResume({ ...active, status: "suspended", suspendMode: "walled_garden" }, [{ attribute: "Mikrotik-Rate-Limit", op: ":=", value: "50M/100M" }], resumeReq(), ctx);
    expect(d).toMatchObject({ kind: "resume", mode: "walled_garden", coa: { kind: "coa", attributes: { "Mikrotik-Rate-Limit": "50M/100M" } } });
  });

  it("an account that is not suspended is not resumed", () => {
    expect(decideResume(active, [], resumeReq(), ctx).kind).toBe("skip");
  });
});

describe("plan change", () => {
  const plan500 = { planId: "fiber-500", downloadMbps: 500, uploadMbps: 250 };

  it("moves the active account to the new group and sends a CoA with the new Mikrotik-Rate-Limit", () => {
    const d = decidePlanChange(active, plan500, planReq("fiber-500"), ctx);
    expect(d).toMatchObject({ kind: "change", planGroup: "acme:fiber-500", moveGroup: true, rateLimit: "250M/500M", coa: { kind: "coa", attributes: { "Mikrotik-Rate-Limit": "250M/500M" } } });
    if (d.kind === "change") expect(d.events[0].data).toEqual({ username: "sub-1@acme", service_plan_id: "fiber-500", rate_limit: "250M/500M", reverts_order_id: null });
  });

  const planFailed = (kept: string) =>
    event("SubscriberPlanChangeFailed", { order_id: "o-m", step: "billing", code: "price_not_configured", reason: "no price", service_plan_id: kept, bandwidth_mbps: 100, effective_date: "2026-12-01" });
  const plan100 = { planId: "fiber-100", downloadMbps: 100, uploadMbps: 50 };

  it("given the account moved to the new plan, when the plan change fails elsewhere, then it goes back to the kept plan with a CoA (RadiusPlanChanged reverts_order_id)", () => {
    const moved: AccountState = { ...active, planGroup: "acme:fiber-500" };
    const d = decidePlanChange(moved, plan100, planFailed("fiber-100"), ctx);
    expect(d).toMatchObject({ kind: "change", planGroup: "acme:fiber-100", moveGroup: true, coa: { kind: "coa", attributes: { "Mikrotik-Rate-Limit": "50M/100M" } } });
    if (d.kind === "change") expect(d.events[0].data).toEqual({ username: "sub-1@acme", service_plan_id: "fiber-100", rate_limit: "50M/100M", reverts_order_id: "o-m" });
  });

  it("given the account never moved (its own change failed), when the plan change fails, then nothing to put back", () => {
    expect(decidePlanChange(active, plan100, planFailed("fiber-100"), ctx).kind).toBe("skip");
    expect(decidePlanChange(null, plan100, planFailed("fiber-100"), ctx).kind).toBe("skip");
  });

  it("a plan not configured fails with plan_not_configured", () => {
    const d = decidePlanChange(active, null, planReq("fiber-9000"), ctx);
    expect(d.kind).toBe("fail");
    if (d.kind === "fail") expect(d.events[0].data).toMatchObject({ code: "plan_not_configured", service_plan_id: "fiber-9000" });
  });

  it("a walled-in account keeps its walled-garden group (the plan group applies on resume) and gets no CoA", () => {
    expect(decidePlanChange({ ...active, status: "suspended", suspendMode: "walled_garden" }, plan500, planReq("fiber-500"), ctx)).toMatchObject({ kind: "change", moveGroup: false, coa: null });
  });
});

describe("termination", () => {
  const view = (...ms: Message[]): SubscriberView => {
    let v: SubscriberView | null = null;
    for (const m of ms) v = evolveView(v, m);
    if (!v) throw new Error("no view");
    return v;
  };
  const created = event("SubscriberCreated", {
    order_id: "order-1",
    subscriber_number: "SUB-1",
    crm_reference: "crm-1",
    customer: { first_name: "Ada", last_name: "L", email: "ada@example.com", phone: null },
    service_address: "1 Fiber Way",
    connection_type: "ftth",
    service_plan_id: "fiber-100",
    bandwidth_mbps: 100,
    onu_serial: null,
    network,
    metadata: {},
  });
  const accountCreated = event("RadiusAccountCreated", { username: "sub-1@acme", plan_group: "acme:fiber-100" });
  const terminate = event("SubscriberTerminationRequested", { order_id: "o-t", reason: null });

  it("radius goes first: on SubscriberTerminationRequested the account is deleted with a Disconnect-Request", () => {
    const d = decideTermination(view(created, accountCreated, terminate), active, terminate, ctx);
    expect(d).toMatchObject({ kind: "delete", username: "sub-1@acme", coa: { kind: "disconnect" } });
    if (d.kind === "delete") expect(d.events[0].data).toEqual({ username: "sub-1@acme", reason: "terminated" });
  });

  it("a suspended account is deleted too", () => {
    expect(decideTermination(view(created, accountCreated, terminate), { ...active, status: "suspended", suspendMode: "reject" }, terminate, ctx).kind).toBe("delete");
  });

  it("once deleted (redelivery, or our own RadiusAccountDeleted coming back) nothing happens", () => {
    expect(decideTermination(view(created, accountCreated, terminate), { ...active, status: "deleted" }, terminate, ctx).kind).toBe("skip");
    const gone = event("RadiusAccountDeleted", { username: "sub-1@acme", reason: "terminated" });
    expect(decideTermination(view(created, accountCreated, terminate, gone), active, gone, ctx).kind).toBe("skip");
  });

  it("without a termination nothing is deleted", () => {
    expect(decideTermination(view(created, accountCreated), active, accountCreated, ctx).kind).toBe("skip");
  });
});
