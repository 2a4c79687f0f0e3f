// Every lifecycle operation ends, and ends right, when a step refuses (issue 8, defect 1), through
// every service as its own process:
// - a plan change the OLT refuses ends OrderFailed {step olt}, and RADIUS and billing, which had
//   moved, put the old plan back (FreeRADIUS answers with the old rate again);
// - a termination whose ONU deactivation the OLT refuses ends OrderFailed {step olt}; the
//   subscriber is degraded and keeps its IPs, billing and profile; every other order is refused
//   (teardown_stalled); a second terminate order (the operator's retry) finishes the teardown.
import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { billingServices, planPeriods } from "../../services/billing/store/schema.js";
import { scheduledChanges } from "../../services/subscriber/store/schema.js";
import { allocations } from "../../services/ipam/store/schema.js";
import { clearInjection, flowOf, injectFailure } from "../../services/olt/store/simulated-olt.js";
import { serviceEntities } from "../../services/projection/store/schema.js";
import { radusergroup } from "../../services/radius/store/schema.js";
import { runId, testEnv } from "../support/env.js";
import { startAll } from "../support/services.js";
import { finalTypes as final, placeAndAwait, type Outcome } from "../support/outcome.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `fail-${run}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
let services: Awaited<ReturnType<typeof startAll>>;
let crm: Crm;
let status: Watch;
let lifecycle: Watch;

const place = (m: Message): Promise<Outcome> => placeAndAwait(crm, status, m);

const serial = (n: number) => `FAIL${run.slice(-6).toUpperCase()}${n}`;
const order = (n: number): ProvisionOrder => ({
  order_id: `ord-${run}-${n}`,
  crm_reference: `cust-${run}-${n}`,
  first_name: "Ada",
  last_name: "Lovelace",
  email: "ada@example.com",
  service_address: "1 Refusal Road",
  connection_type: "ftth",
  service_plan_id: "home-100",
  onu_serial: serial(n),
  service_vlan: 130,
  inner_vlan: 1300 + n,
  qinq_enabled: true,
  ipv6_assignment_mode: "none",
});

async function provision(n: number): Promise<string> {
  const done = await place(provisionOrder(tenant, order(n)));
  expect(done.type).toBe("OrderCompleted");
  return (done as Message<"OrderCompleted">).data.subscriber_id;
}

const groupOf = async (id: string) => {
  const username = (await lifecycle.waitForType(id, "RadiusAccountCreated")).data.username;
  return (await db.select().from(radusergroup).where(eq(radusergroup.username, username)))[0]?.groupname;
};
const documentOf = async (id: string) =>
  (await db.select().from(serviceEntities).where(and(eq(serviceEntities.tenantId, tenant), eq(serviceEntities.subscriberId, id))))[0];

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [
        { planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 },
        { planId: "home-1000", name: "Home 1000", downloadMbps: 1000, uploadMbps: 200 },
      ],
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.68.0.0/28", gateway: "100.68.0.1", isDefault: true }],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [1, 2, 3].map((n) => ({ port: `0/1/${n}`, serial: serial(n) })) }],
    },
  ]);
  // The deadline sweep (which also releases scheduled plan changes) often, for this tenant only.
  services = await startAll(undefined, { DEADLINE_SWEEP_MS: "250", DEADLINE_SWEEP_TENANTS: tenant });
  crm = await connectCrm(testEnv);
  status = await watch(topics.orderStatus);
  lifecycle = await watch(topics.lifecycle);
});

afterAll(async () => {
  await status?.stop();
  await lifecycle?.stop();
  await crm?.close();
  await services?.stop();
  await sql.end();
});

it("a plan change the OLT refuses ends OrderFailed at olt, and RADIUS and billing put the old plan back", async () => {
  const id = await provision(1);
  expect(await groupOf(id)).toBe(`${tenant}:home-100`);
  await injectFailure(db, tenant, serial(1), { operation: "set_bandwidth", error: "service flow locked by the OLT", times: "permanent" });

  const modify = lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `mod-${run}`, subscriber_id: id, service_plan_id: "home-1000", bandwidth_mbps: null, effective_date: null });
  const failed = await place(modify);
  expect(failed.type).toBe("OrderFailed");
  expect(failed.data).toMatchObject({ order_type: "modify", step: "olt", code: "injected_failure" });

  const planFailed = await lifecycle.waitForType(id, "SubscriberPlanChangeFailed");
  expect(planFailed.data).toMatchObject({ order_id: `mod-${run}`, step: "olt", service_plan_id: "home-100", bandwidth_mbps: 100 });
  const radiusBack = await lifecycle.waitFor(id, (ms) => ms.some((m) => m.type === "RadiusPlanChanged" && m.data.reverts_order_id === `mod-${run}`));
  expect(radiusBack.filter((m) => m.type === "RadiusPlanChanged").map((m) => (m as Message<"RadiusPlanChanged">).data.service_plan_id)).toEqual(["home-1000", "home-100"]);
  await lifecycle.waitFor(id, (ms) => ms.some((m) => m.type === "BillingPlanChanged" && m.data.reverts_order_id === `mod-${run}`));

  // RADIUS: the account is back in the old plan's group.
  expect(await groupOf(id)).toBe(`${tenant}:home-100`);
  // Billing: one open period of the old plan, as if nothing had changed; the record shows the old plan.
  const [service] = await db.select().from(billingServices).where(and(eq(billingServices.tenantId, tenant), eq(billingServices.subscriberId, id)));
  expect(service?.planId).toBe("home-100");
  const periods = await db.select().from(planPeriods).where(and(eq(planPeriods.tenantId, tenant), eq(planPeriods.serviceId, service?.serviceId ?? ""))).orderBy(asc(planPeriods.startsOn));
  expect(periods.map((p) => [p.planId, p.endsOn])).toEqual([["home-100", null]]);
  // The OLT never moved.
  expect((await flowOf(db, tenant, serial(1)))?.bandwidthMbps).toBe(100);

  // The subscriber takes orders again: with the OLT fixed, the same change goes through.
  await clearInjection(db, tenant, serial(1));
  const again = lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `mod2-${run}`, subscriber_id: id, service_plan_id: "home-1000", bandwidth_mbps: null, effective_date: null });
  expect((await place(again)).type).toBe("OrderCompleted");
  expect(await groupOf(id)).toBe(`${tenant}:home-1000`);
  expect((await flowOf(db, tenant, serial(1)))?.bandwidthMbps).toBe(1000);
});

it("a termination the OLT refuses ends OrderFailed, leaves the subscriber degraded with what is left, and a second terminate order finishes it", async () => {
  const id = await provision(2);
  await injectFailure(db, tenant, serial(2), { operation: "deactivate", error: "ONU unreachable from the OLT shelf", times: "permanent" });

  const first = await place(lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `ter-${run}`, subscriber_id: id, reason: "moved away" }));
  expect(first.type).toBe("OrderFailed");
  expect(first.data).toMatchObject({ order_type: "terminate", step: "olt", code: "injected_failure" });
  const stalled = await lifecycle.waitForType(id, "SubscriberTeardownFailed");
  expect(stalled.data).toMatchObject({ step: "olt", remaining: ["olt", "ipam", "billing", "profile"] });

  // The RADIUS account is gone, the rest is held; the projection says degraded and why.
  expect(await groupOf(id)).toBeUndefined();
  expect(await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)))).toHaveLength(1);
  await expect.poll(async () => (await documentOf(id))?.status, { timeout: 30_000 }).toBe("degraded");
  expect((await documentOf(id))?.degradedReasons.join(" ")).toContain("stopped at olt");

  // Nothing else goes on meanwhile.
  const suspend = await place(lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `sus-${run}`, subscriber_id: id, reason: null }));
  expect(suspend.type).toBe("OrderRejected");
  expect((suspend as Message<"OrderRejected">).data.reasons.map((r) => r.code)).toEqual(["teardown_stalled"]);

  // The operator fixes the OLT and retries: the teardown goes on from where it stopped.
  await clearInjection(db, tenant, serial(2));
  const retry = await place(lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `ter2-${run}`, subscriber_id: id, reason: "retry" }));
  expect(retry.type).toBe("OrderCompleted");
  await lifecycle.waitForType(id, "SubscriberArchived");
  expect(await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)))).toEqual([]);
  expect(await flowOf(db, tenant, serial(2))).toBeFalsy();
  await expect.poll(async () => (await documentOf(id))?.status, { timeout: 30_000 }).toBe("terminated");
  expect((await documentOf(id))?.degradedReasons.filter((r) => r.startsWith("termination "))).toEqual([]);
});

it("plan change dates: one dated before the billing period is refused, one for a later date waits for it, one billing cannot charge is put back", async () => {
  const id = await provision(3);
  const today = new Date().toISOString().slice(0, 10);
  const dayOffset = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  const modify = (n: string, effective_date: string | null) =>
    lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `${n}-${run}`, subscriber_id: id, service_plan_id: "home-1000", bandwidth_mbps: null, effective_date });
  const periodsOf = async () => {
    const [service] = await db.select().from(billingServices).where(and(eq(billingServices.tenantId, tenant), eq(billingServices.subscriberId, id)));
    const rows = await db.select().from(planPeriods).where(and(eq(planPeriods.tenantId, tenant), eq(planPeriods.serviceId, service?.serviceId ?? ""))).orderBy(asc(planPeriods.startsOn));
    return rows.map((p) => [p.planId, p.startsOn, p.endsOn]);
  };
  const before = await periodsOf();

  // Before the current billing period (a calendar month): refused at intake, nothing changes.
  const backdated = await place(modify("back", dayOffset(-40)));
  expect(backdated.type).toBe("OrderRejected");
  expect((backdated as Message<"OrderRejected">).data.reasons.map((r) => r.code)).toEqual(["effective_date_before_current_period"]);

  // For a later date: accepted, held; nothing changes today, and the line takes other orders meanwhile.
  const tomorrow = dayOffset(1);
  await crm.place(modify("later", tomorrow));
  await status.waitFor(`later-${run}`, (ms) => ms.some((m) => m.type === "OrderAccepted"));
  expect((await lifecycle.waitForType(id, "SubscriberPlanChangeScheduled")).data).toMatchObject({ service_plan_id: "home-1000", effective_date: tomorrow });
  expect(await groupOf(id)).toBe(`${tenant}:home-100`);
  expect(await periodsOf()).toEqual(before);
  expect((await place(lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `sus3-${run}`, subscriber_id: id, reason: null }))).type).toBe("OrderCompleted");
  expect((await place(lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: `res3-${run}`, subscriber_id: id }))).type).toBe("OrderCompleted");
  expect(status.about(`later-${run}`).map((m) => m.type)).toEqual(["OrderAccepted"]);

  // Its date comes (the held row made due, as midnight would): applied across every service, charged from that date.
  await db.update(scheduledChanges).set({ effectiveDate: today }).where(and(eq(scheduledChanges.tenantId, tenant), eq(scheduledChanges.orderId, `later-${run}`)));
  const applied = await status.waitFor(`later-${run}`, (ms) => ms.some((m) => final.includes(m.type)), 60_000);
  expect(applied.map((m) => m.type)).toEqual(["OrderAccepted", "OrderCompleted"]);
  expect(await groupOf(id)).toBe(`${tenant}:home-1000`);
  expect((await flowOf(db, tenant, serial(3)))?.bandwidthMbps).toBe(1000);
  expect((await periodsOf()).at(-1)).toEqual(["home-1000", today, null]);

  // Back to home-100 dated the first of the month: within the billing period, so intake takes it, but
  // billing has charged home-1000 since today and refuses to rewrite that: the change is put back.
  const firstOfMonth = `${today.slice(0, 7)}-01`;
  if (firstOfMonth !== today) {
    const rewrite = await place(lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `rewrite-${run}`, subscriber_id: id, service_plan_id: "home-100", bandwidth_mbps: null, effective_date: firstOfMonth }));
    expect(rewrite.type).toBe("OrderFailed");
    expect(rewrite.data).toMatchObject({ step: "billing", code: "effective_date_before_current_period" });
    await lifecycle.waitFor(id, (ms) => ms.some((m) => m.type === "RadiusPlanChanged" && m.data.reverts_order_id === `rewrite-${run}`));
    expect(await groupOf(id)).toBe(`${tenant}:home-1000`);
    await expect.poll(async () => (await flowOf(db, tenant, serial(3)))?.bandwidthMbps, { timeout: 30_000 }).toBe(1000);
    expect((await periodsOf()).at(-1)).toEqual(["home-1000", today, null]);
  }
});
