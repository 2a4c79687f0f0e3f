// The billing service on the real stack, with the olt service beside it (both in-process): the
// test plays subscriber, profile and radius by producing their facts, and watches the chain
// OnuActivated → BillingServiceCreated, and the rollback order billing → olt.
import { sql as q } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { definition as billingDefinition } from "../../services/billing/service.js";
import * as billing from "../../services/billing/store/schema.js";
import { servicesOf, setPrice } from "../../services/billing/store/billing.js";
import { definition as oltDefinition } from "../../services/olt/service.js";
import * as olt from "../../services/olt/store/schema.js";
import { addOlt, discoverOnu, flowOf, injectFailure } from "../../services/olt/store/simulated-olt.js";
import { committedPast } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { watch, type Watch } from "../support/watch.js";
import {
  disconnectProducer,
  eventually,
  freshIds,
  lifecycle,
  produce,
  provisioningFailed,
  radiusAccountCreated,
  subscriberCreated,
  type Ids,
} from "./olt-billing.fixture.js";

const tenant = `t-${runId()}`;
const unpricedTenant = `t-${runId()}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
let services: RunningService[] = [];
let lifecycleWatch: Watch;

/** True once the service has handled the event: its group committed past it. */
const processedBy = (service: "olt" | "billing", m: Message) => committedPast(service, m);
const causedBy = async (service: "olt" | "billing", m: Message) => {
  const outbox = service === "olt" ? olt.outbox : billing.outbox;
  return db.select().from(outbox).where(q`${outbox.meta}->>'causation_id' = ${m.meta.event_id}`);
};

async function ftthSubscriber(t: string): Promise<Ids> {
  const ids = freshIds(t);
  await discoverOnu(db, t, "olt-1", "0/2/1", ids.serial);
  return ids;
}

const typesAbout = (ids: Ids) => lifecycleWatch.about(ids.subscriber).map((m) => m.type);

beforeAll(async () => {
  lifecycleWatch = await watch(topics.lifecycle);
  services = [await runService(oltDefinition(), { ...testEnv }), await runService(billingDefinition(), { ...testEnv })];
  for (const t of [tenant, unpricedTenant]) await addOlt(db, t, "olt-1", "OLT 1");
  await setPrice(db, tenant, "fiber-250", { monthly_price_cents: 3990, currency: "EUR" });
  // Another tenant's price for the same plan must not count for unpricedTenant.
  await setPrice(db, `t-${runId()}`, "fiber-250", { monthly_price_cents: 1, currency: "EUR" });
});

afterAll(async () => {
  for (const s of services) await s.stop();
  await lifecycleWatch?.stop();
  await disconnectProducer();
  await sql.end();
});

describe("billing service record", () => {
  it("records the plan, status active, after OnuActivated: BillingServiceCreated and an active row with the price", async () => {
    const ids = await ftthSubscriber(tenant);
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));

    const created = await lifecycleWatch.waitForType(ids.subscriber, "BillingServiceCreated");
    expect(created.data).toMatchObject({ service_plan_id: "fiber-250", status: "active" });
    expect(created.meta.producer).toBe("billing");
    const onu = lifecycleWatch.about(ids.subscriber).find((m) => m.type === "OnuActivated");
    expect(created.meta.causation_id).toBe(onu?.meta.event_id);
    const rows = await servicesOf(db, tenant, ids.subscriber);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ serviceId: created.data.service_id, planId: "fiber-250", status: "active", monthlyPriceCents: 3990, currency: "EUR", endedAt: null });
  });

  it("records the plan after OnuActivationSkipped (not FTTH)", async () => {
    const ids = freshIds(tenant);
    await produce(subscriberCreated(ids, { connection_type: "ethernet", onu_serial: null }), radiusAccountCreated(ids));

    const created = await lifecycleWatch.waitForType(ids.subscriber, "BillingServiceCreated");
    expect(typesAbout(ids)).toEqual(expect.arrayContaining(["OnuActivationSkipped", "BillingServiceCreated"]));
    expect(created.data.status).toBe("active");
  });
});

describe("one unit of work", () => {
  // billing's reactor driven directly with one unit of several events (as one large fetch gives
  // it): new records and status changes are held and written in one statement each before commit.
  it("records two subscribers' services and applies a suspension and a resumption of one of them in order", async () => {
    const [x, y] = [freshIds(tenant), freshIds(tenant)];
    const onu = (ids: Ids) => lifecycle(ids, "OnuActivated", { onu_id: `onu-${ids.subscriber}`, onu_serial: ids.serial, olt_id: "olt-1", pon_port: "0/2/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 250 }, "olt");
    const suspend = (ids: Ids) => lifecycle(ids, "SubscriberSuspendRequested", { order_id: `${ids.order}-s`, reason: "non-payment", network_profile_id: null, network: null }, "subscriber");
    const resume = (ids: Ids) => lifecycle(ids, "SubscriberResumeRequested", { order_id: `${ids.order}-r` }, "subscriber");
    const messages = [subscriberCreated(x), subscriberCreated(y), onu(x), onu(y), suspend(x), suspend(y), resume(x)];
    const billingService = services[1]!;
    const reactor = billingDefinition().reactor(billingService.deps as Parameters<ReturnType<typeof billingDefinition>["reactor"]>[0]);
    await reactor.run(messages.map((message, i) => ({ message, delivery: { topic: topics.lifecycle, partition: 0, offset: String(7_000_000 + i), headers: {} }, log: billingService.deps.logger })));

    const [sx] = await servicesOf(db, tenant, x.subscriber);
    const [sy] = await servicesOf(db, tenant, y.subscriber);
    expect(sx).toMatchObject({ status: "active", planId: "fiber-250", monthlyPriceCents: 3990 });
    expect(sy).toMatchObject({ status: "suspended", planId: "fiber-250" });
    const periods = await db.select().from(billing.planPeriods).where(q`${billing.planPeriods.serviceId} in (${sx?.serviceId}, ${sy?.serviceId})`);
    expect(periods).toHaveLength(2);
    const emitted = await db.select().from(billing.outbox).where(q`${billing.outbox.meta}->>'subscriber_id' = ${x.subscriber}`);
    expect(emitted.map((r) => r.type)).toEqual(["BillingServiceCreated", "BillingServiceSuspended", "BillingServiceResumed"]);
  });
});

describe("a failure at billing rolls back the ONU", () => {
  it("no price for the tenant's plan → BillingServiceCreationFailed; after SubscriberProvisioningFailed the ONU is deactivated and its flow removed", async () => {
    const ids = await ftthSubscriber(unpricedTenant);
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));

    const failed = await lifecycleWatch.waitForType(ids.subscriber, "BillingServiceCreationFailed");
    expect(failed.data).toEqual({ code: "price_not_configured", reason: `no price configured for plan fiber-250 of tenant ${unpricedTenant}` });
    expect(await servicesOf(db, unpricedTenant, ids.subscriber)).toEqual([]);
    expect(await flowOf(db, unpricedTenant, ids.serial)).not.toBeNull();

    await produce(provisioningFailed(ids, "billing"));
    const deactivated = await lifecycleWatch.waitForType(ids.subscriber, "OnuDeactivated");
    expect(deactivated.data).toMatchObject({ onu_serial: ids.serial, reason: "rollback" });
    expect(await flowOf(db, unpricedTenant, ids.serial)).toBeNull();
    expect(typesAbout(ids)).not.toContain("BillingServiceCancelled");
  });
});

describe("compensation after billing succeeded", () => {
  it("cancels the record first (BillingServiceCancelled), and only then does olt deactivate the ONU", async () => {
    const ids = await ftthSubscriber(tenant);
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));
    const created = await lifecycleWatch.waitForType(ids.subscriber, "BillingServiceCreated");

    await produce(provisioningFailed(ids, "subscriber"));
    await lifecycleWatch.waitForType(ids.subscriber, "OnuDeactivated");
    const types = typesAbout(ids);
    expect(types.indexOf("BillingServiceCancelled")).toBeGreaterThan(-1);
    expect(types.indexOf("BillingServiceCancelled")).toBeLessThan(types.indexOf("OnuDeactivated"));
    const cancelled = lifecycleWatch.about(ids.subscriber).find((m) => m.type === "BillingServiceCancelled");
    expect(cancelled?.data).toEqual({ service_id: created.data.service_id, reason: "rollback" });
    // olt's deactivation was caused by billing's cancellation, not by the failure itself.
    const deactivated = lifecycleWatch.about(ids.subscriber).find((m) => m.type === "OnuDeactivated");
    expect(deactivated?.meta.causation_id).toBe(cancelled?.meta.event_id);

    const [row] = await servicesOf(db, tenant, ids.subscriber);
    expect(row).toMatchObject({ status: "cancelled" });
    expect(row?.endedAt).toBeInstanceOf(Date);
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
  });
});

describe("a failure at olt", () => {
  it("injected failure → OnuActivationFailed; billing records nothing and, after the failure, nobody has anything to undo", async () => {
    const ids = await ftthSubscriber(tenant);
    await injectFailure(db, tenant, ids.serial, { operation: "activate", error: "LOS on PON port", times: "permanent" });
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));
    const failed = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivationFailed");
    expect(failed.data).toMatchObject({ code: "injected_failure", reason: "LOS on PON port" });

    const failure = provisioningFailed(ids, "olt");
    await produce(failure);
    await eventually(async () => (await processedBy("olt", failure)) && (await processedBy("billing", failure)), "both services to process the failure");
    expect(await causedBy("olt", failure)).toEqual([]);
    expect(await causedBy("billing", failure)).toEqual([]);
    expect(await servicesOf(db, tenant, ids.subscriber)).toEqual([]);
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
  });
});
