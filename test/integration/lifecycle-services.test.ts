// The rest of the lifecycle for profile, ipam, olt, billing and projection, on the real stack
// (Kafka, the registry, PostgreSQL), the five services in-process. The test plays subscriber and
// radius: it produces their events (SubscriberCreated, RadiusAccountCreated, the orders'
// ...Requested events, RadiusAccountDeleted, RadiusCoaCompleted, Subscriber{Suspended,Resumed,
// Archived}) and watches what the five services publish and store.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { definition as billingDefinition } from "../../services/billing/service.js";
import { planHistory, servicesOf, setPrice } from "../../services/billing/store/billing.js";
import { definition as ipamDefinition } from "../../services/ipam/service.js";
import { addPool } from "../../services/ipam/store/pools.js";
import { definition as oltDefinition } from "../../services/olt/service.js";
import { addOlt, discoverOnu, flowOf, onuOf } from "../../services/olt/store/simulated-olt.js";
import { definition as profileDefinition } from "../../services/profile/service.js";
import { definition as projectionDefinition } from "../../services/projection/service.js";
import * as olt from "../../services/olt/store/schema.js";
import { committedPast } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { watch, type Watch } from "../support/watch.js";
import { disconnectProducer, eventually, freshIds, lifecycle, network, produce, subscriberCreated, type Ids } from "./olt-billing.fixture.js";

const tenant = `t-${runId()}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
let profile: RunningService;
let projectionService: RunningService;
let services: RunningService[] = [];
let topic: Watch;

const option82 = { circuit_id: "OLT1/1/1/1:7", remote_id: "CPE-7" };

/** The order and radius events the test plays, for one subscriber. */
const ev = <K extends EventName>(ids: Ids, type: K, data: EventData<K>, producer = "test") => lifecycle(ids, type, data, producer);

let token: string;

async function httpJson(service: RunningService, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetchAs(token, `http://127.0.0.1:${service.health.port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const types = (ids: Ids) => topic.about(ids.subscriber).map((m) => m.type);

let innerVlan = 3000;

/** Provisions a subscriber (its own QinQ pair) through profile, ipam, olt and billing; returns its IpAllocated. */
async function provision(ids: Ids): Promise<Message<"IpAllocated">> {
  await discoverOnu(db, tenant, "olt-1", "0/1/1", ids.serial);
  await produce(subscriberCreated(ids, { network: network({ service_vlan: 300, inner_vlan: ++innerVlan, qinq_enabled: true, ...option82 }) }));
  const ips = await topic.waitForType(ids.subscriber, "IpAllocated");
  await produce(ev(ids, "RadiusAccountCreated", { username: `SUB-${ids.subscriber}`, plan_group: "fiber-250" }, "radius"));
  await topic.waitForType(ids.subscriber, "BillingServiceCreated");
  await produce(ev(ids, "SubscriberProvisioned", { order_id: ids.order }, "subscriber"));
  await waitForStatus(ids, "active");
  return ips;
}

async function waitForStatus(ids: Ids, status: string): Promise<Record<string, unknown>> {
  let last: unknown;
  for (let i = 0; i < 300; i++) {
    const res = await httpJson(projectionService, `/tenants/${tenant}/subscribers/${ids.subscriber}/service-metadata`);
    last = res.body;
    if (res.status === 200 && res.body.status === status) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`projection of ${ids.subscriber} never became ${status}; last: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  token = await tokenFor(tenant);
  topic = await watch(topics.lifecycle);
  profile = await runService(profileDefinition(), { ...testEnv });
  projectionService = await runService(projectionDefinition(), { ...testEnv });
  services = [
    profile,
    projectionService,
    await runService(ipamDefinition(), { ...testEnv }),
    await runService(oltDefinition(), { ...testEnv }),
    await runService(billingDefinition(), { ...testEnv }),
  ];
  await addOlt(db, tenant, "olt-1", "OLT 1");
  await addPool(db, { tenantId: tenant, name: "v4", kind: "ipv4", cidr: "100.80.0.0/28", gateway: "100.80.0.1", isDefault: true });
  await setPrice(db, tenant, "fiber-250", { monthly_price_cents: 3990, currency: "EUR" });
  await setPrice(db, tenant, "fiber-500", { monthly_price_cents: 5990, currency: "EUR" });
}, 120_000);

afterAll(async () => {
  for (const s of services) await s.stop();
  await topic?.stop();
  await disconnectProducer();
  await sql.end();
});

describe("termination in the seed's order", () => {
  it("tears down RADIUS → ONU → IPs → billing → profile, keeps the profile for audit and gives the IPs back", async () => {
    const ids = freshIds(tenant);
    const allocated = await provision(ids);
    const vlan = innerVlan;
    const ipv4 = allocated.data.ips.ipv4;
    expect(ipv4).toMatch(/^100\.80\.0\./);

    await produce(ev(ids, "SubscriberTerminationRequested", { order_id: `${ids.order}-t`, reason: "moved away" }, "subscriber"));
    await waitForStatus(ids, "terminating");
    // nothing is torn down while the RADIUS account exists
    expect(types(ids)).not.toContain("OnuDeactivated");
    expect(types(ids)).not.toContain("IpReleased");
    await produce(ev(ids, "RadiusAccountDeleted", { username: `SUB-${ids.subscriber}`, reason: "terminated" }, "radius"));
    const deleted = await topic.waitForType(ids.subscriber, "NetworkProfileDeleted");
    expect(deleted.data).toMatchObject({ soft_deleted: true, reason: "terminated" });

    const teardown = ["RadiusAccountDeleted", "OnuDeactivated", "IpReleased", "BillingServiceTerminated", "NetworkProfileDeleted"];
    expect(types(ids).filter((t) => teardown.includes(t))).toEqual(teardown);
    const about = topic.about(ids.subscriber);
    expect(about.find((m) => m.type === "OnuDeactivated")?.data).toMatchObject({ reason: "terminated" });
    expect(about.find((m) => m.type === "IpReleased")?.data).toMatchObject({ reason: "terminated", ips: { ipv4 } });

    // the ONU's flow is gone, the billing service is terminated with an end
    expect((await onuOf(db, tenant, ids.serial))?.state).toBe("discovered");
    expect(await flowOf(db, tenant, ids.serial)).toBeFalsy();
    const [billing] = await servicesOf(db, tenant, ids.subscriber);
    expect(billing?.status).toBe("terminated");
    expect(billing?.endedAt).toBeInstanceOf(Date);

    // the profile is soft-deleted: hidden by default, kept with VLAN, IPs and Option 82
    const path = `/tenants/${tenant}/subscribers/${ids.subscriber}/network-profile`;
    expect((await httpJson(profile, path)).status).toBe(404);
    const kept = await httpJson(profile, `${path}?include_deleted=true`);
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ service_vlan: 300, inner_vlan: vlan, static_ipv4: ipv4, ...option82 });
    expect(kept.body.deleted_at).toEqual(expect.any(String));

    await produce(ev(ids, "SubscriberArchived", { order_id: `${ids.order}-t` }, "subscriber"));
    const doc = await waitForStatus(ids, "terminated");
    expect(doc.service_metadata).toMatchObject({ network_profile: null, allocated_ips: null, devices: { onu_id: null } });

    // a new subscriber gets the released address back
    const next = freshIds(tenant);
    await discoverOnu(db, tenant, "olt-1", "0/1/1", next.serial);
    await produce(subscriberCreated(next, { network: network({ service_vlan: 300, inner_vlan: 3900, qinq_enabled: true }) }));
    expect((await topic.waitForType(next.subscriber, "IpAllocated")).data.ips.ipv4).toBe(ipv4);
  }, 120_000);
});

describe("suspend, resume and plan change", () => {
  it("billing pauses and resumes; the projection shows suspended, a failed CoA, then active", async () => {
    const ids = freshIds(tenant);
    await provision(ids);
    await produce(
      ev(ids, "SubscriberSuspendRequested", { order_id: `${ids.order}-s`, reason: "non-payment", network_profile_id: null, network: network({ service_vlan: 300, inner_vlan: 3001, qinq_enabled: true }) }, "subscriber"),
    );
    await topic.waitForType(ids.subscriber, "BillingServiceSuspended");
    expect((await servicesOf(db, tenant, ids.subscriber))[0]?.status).toBe("suspended");
    await produce(
      ev(ids, "RadiusCoaCompleted", { username: `SUB-${ids.subscriber}`, kind: "disconnect", nas_id: "nas-1", nas_address: null, outcome: "timeout", error_cause: null, attempts: 3 }, "radius"),
      ev(ids, "SubscriberSuspended", { order_id: `${ids.order}-s` }, "subscriber"),
    );
    const suspended = await waitForStatus(ids, "suspended");
    expect(suspended.radius_coa).toMatchObject({ kind: "disconnect", outcome: "timeout", nas_id: "nas-1", attempts: 3 });
    expect(suspended.degraded_reasons).toEqual(["CoA to NAS nas-1 failed (timeout): the session may still run at the old state"]);
    expect(Object.keys(suspended.service_metadata as object)).toEqual(["network_profile", "allocated_ips", "devices", "radius"]);
    expect((suspended.timeline as { summary: string }[]).map((e) => e.summary)).toContain("Disconnect-Request to nas-1: timeout after 3 attempts");

    await produce(ev(ids, "SubscriberResumeRequested", { order_id: `${ids.order}-r` }, "subscriber"));
    await topic.waitForType(ids.subscriber, "BillingServiceResumed");
    expect((await servicesOf(db, tenant, ids.subscriber))[0]?.status).toBe("active");
    await produce(
      ev(ids, "RadiusCoaCompleted", { username: `SUB-${ids.subscriber}`, kind: "coa", nas_id: "nas-1", nas_address: null, outcome: "ack", error_cause: null, attempts: 1 }, "radius"),
      ev(ids, "SubscriberResumed", { order_id: `${ids.order}-r` }, "subscriber"),
    );
    const resumed = await waitForStatus(ids, "active");
    expect(resumed.degraded_reasons).toEqual([]);
  }, 120_000);

  it("a plan change moves billing to the new plan from the date (history kept) and the ONU bandwidth follows; a plan without price fails billing and changes nothing there", async () => {
    const ids = freshIds(tenant);
    await provision(ids);
    const [service] = await servicesOf(db, tenant, ids.subscriber);
    const serviceId = service?.serviceId ?? "";
    await produce(ev(ids, "SubscriberPlanChangeRequested", { order_id: `${ids.order}-m`, service_plan_id: "fiber-500", bandwidth_mbps: 500, effective_date: "2030-03-01" }, "subscriber"));
    const changed = await topic.waitForType(ids.subscriber, "BillingPlanChanged");
    expect(changed.data).toEqual({ service_id: serviceId, service_plan_id: "fiber-500", effective_date: "2030-03-01", reverts_order_id: null });
    expect((await topic.waitForType(ids.subscriber, "OnuBandwidthChanged")).data).toMatchObject({ bandwidth_mbps: 500 });
    expect((await flowOf(db, tenant, ids.serial))?.bandwidthMbps).toBe(500);
    const history = await planHistory(db, tenant, serviceId);
    expect(history.map((p) => [p.planId, p.endsOn, p.monthlyPriceCents])).toEqual([
      ["fiber-250", "2030-02-28", 3990],
      ["fiber-500", null, 5990],
    ]);
    expect(history[1]?.startsOn).toBe("2030-03-01");

    await produce(ev(ids, "SubscriberPlanChangeRequested", { order_id: `${ids.order}-m2`, service_plan_id: "fiber-999", bandwidth_mbps: 999, effective_date: "2030-04-01" }, "subscriber"));
    const failed = await topic.waitForType(ids.subscriber, "BillingPlanChangeFailed");
    expect(failed.data).toMatchObject({ service_id: serviceId, service_plan_id: "fiber-999", code: "price_not_configured" });
    expect(await planHistory(db, tenant, serviceId)).toEqual(history);
    expect((await servicesOf(db, tenant, ids.subscriber))[0]?.planId).toBe("fiber-500");
  }, 120_000);

  it("a wireless subscriber's plan change leaves the OLT alone", async () => {
    const ids = freshIds(tenant);
    await produce(subscriberCreated(ids, { connection_type: "wireless", onu_serial: null }));
    await topic.waitForType(ids.subscriber, "IpAllocated");
    await produce(ev(ids, "RadiusAccountCreated", { username: `SUB-${ids.subscriber}`, plan_group: "fiber-250" }, "radius"));
    await topic.waitForType(ids.subscriber, "BillingServiceCreated");
    const change = ev(ids, "SubscriberPlanChangeRequested", { order_id: `${ids.order}-m`, service_plan_id: "fiber-500", bandwidth_mbps: 500, effective_date: "2030-03-01" }, "subscriber");
    await produce(change);
    await topic.waitForType(ids.subscriber, "BillingPlanChanged");
    // olt has handled the event (its group committed past it) and emitted nothing for it
    await eventually(() => committedPast("olt", change), "olt processed the plan change");
    expect(types(ids)).not.toContain("OnuBandwidthChanged");
    expect((await db.select().from(olt.outbox).where(and(eq(olt.outbox.key, ids.subscriber), eq(olt.outbox.type, "OnuBandwidthChanged")))).length).toBe(0);
  }, 120_000);
});
