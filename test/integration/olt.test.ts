// The olt service on the real stack: Kafka, the registry and PostgreSQL. The test plays the
// services around it (subscriber, profile, radius, billing) by producing their facts, and
// watches what olt publishes and what the simulated OLT holds.
import { sql as q } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { definition } from "../../services/olt/service.js";
import * as olt from "../../services/olt/store/schema.js";
import { addOlt, discoverOnu, flowOf, injectFailure, onuOf } from "../../services/olt/store/simulated-olt.js";
import { committedPast } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { watch, type Watch } from "../support/watch.js";
import {
  disconnectProducer,
  eventually,
  freshIds,
  lifecycle,
  network,
  produce,
  provisioningFailed,
  radiusAccountCreated,
  subscriberCreated,
  type Ids,
} from "./olt-billing.fixture.js";

const tenant = `t-${runId()}`;
const otherTenant = `t-${runId()}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
let service: RunningService;
let lifecycleWatch: Watch;

/** True once olt has handled the event: its group committed past it. */
const processed = (m: Message) => committedPast("olt", m);

/** What olt wrote to its outbox because of `m` (in the same transaction as the effect). */
const causedBy = async (m: Message) => db.select().from(olt.outbox).where(q`${olt.outbox.meta}->>'causation_id' = ${m.meta.event_id}`);

async function discovered(ids: Ids, port = "0/1/1"): Promise<string> {
  return discoverOnu(db, ids.tenant, "olt-1", port, ids.serial);
}

beforeAll(async () => {
  lifecycleWatch = await watch(topics.lifecycle);
  service = await runService(definition(), { ...testEnv });
  for (const t of [tenant, otherTenant]) await addOlt(db, t, "olt-1", "OLT 1");
});

afterAll(async () => {
  await service?.stop();
  await lifecycleWatch?.stop();
  await disconnectProducer();
  await sql.end();
});

describe("quiet events", () => {
  // The reactor driven directly, over a database handle that counts transactions: an event olt
  // certainly does nothing about, for a subscriber whose state is in memory, is folded there.
  it("cost no transaction: a quiet event is folded in memory, and the effect after it sees what it folded", async () => {
    let transactions = 0;
    const counting = new Proxy(service.deps.db, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === "transaction") transactions += 1;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const reactor = definition().reactor({ ...service.deps, db: counting } as Parameters<ReturnType<typeof definition>["reactor"]>[0]);
    const ids = freshIds(tenant);
    await discovered(ids);
    let offset = 8_000_000;
    const run = (...ms: Message[]) => reactor.run(ms.map((message) => ({ message, delivery: { topic: topics.lifecycle, partition: 0, offset: String(offset++), headers: {} }, log: service.deps.logger })));

    await run(subscriberCreated(ids, { network: network({ service_vlan: 300, inner_vlan: 3001, qinq_enabled: true }) })); // its state is read: a transaction
    expect(transactions).toBe(1);
    // The profile's VLANs win over the order's: olt folds this and does nothing about it.
    const profile = lifecycle(ids, "NetworkProfileCreated", { profile: { network_profile_id: `np-${ids.subscriber}`, config: network({ service_vlan: 310, inner_vlan: 3101, qinq_enabled: true }), metadata: {} } }, "profile");
    await run(profile, lifecycle(ids, "IpAllocated", { ips: { ipv4: "100.64.3.3", ipv6: null, ipv6_prefix: null, source: "dynamic" } }, "ipam"));
    expect(transactions).toBe(1);
    const stored = await sql`select 1 from olt.subscriber_state where tenant_id = ${ids.tenant} and subscriber_id = ${ids.subscriber}`;
    expect(stored).toHaveLength(0); // held in memory only

    const trigger = radiusAccountCreated(ids);
    await run(trigger);
    expect(transactions).toBe(3); // the unit of work, and the simulated OLT's own

    const [activated] = await causedBy(trigger);
    expect(activated?.type).toBe("OnuActivated");
    expect(activated?.data).toMatchObject({ s_vlan: 310, c_vlan: 3101 });
  });
});

describe("ONU activation on RadiusAccountCreated", () => {
  it("activates a QinQ subscriber: OnuActivated carries S-VLAN, C-VLAN and bandwidth, and the OLT's service flow has them", async () => {
    const ids = freshIds(tenant);
    const onuId = await discovered(ids, "0/1/3");
    await produce(subscriberCreated(ids, { network: network({ service_vlan: 120, inner_vlan: 1201, qinq_enabled: true }) }), radiusAccountCreated(ids));

    const activated = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivated");
    expect(activated.data).toEqual({ onu_id: onuId, onu_serial: ids.serial, olt_id: "olt-1", pon_port: "0/1/3", s_vlan: 120, c_vlan: 1201, bandwidth_mbps: 250 });
    expect(activated.meta).toMatchObject({ tenant_id: tenant, correlation_id: ids.order, producer: "olt" });
    expect(await flowOf(db, tenant, ids.serial)).toMatchObject({ onuId, subscriberId: ids.subscriber, sVlan: 120, cVlan: 1201, bandwidthMbps: 250 });
    expect((await onuOf(db, tenant, ids.serial))?.state).toBe("active");
  });

  it("activates single-tagged with the network profile's VLAN (over the order's): no C-VLAN reaches the OLT", async () => {
    const ids = freshIds(tenant);
    await discovered(ids);
    const profile = lifecycle(ids, "NetworkProfileCreated", {
      profile: { network_profile_id: `np-${ids.subscriber}`, config: network({ service_vlan: 300, inner_vlan: 3001, qinq_enabled: false }), metadata: {} },
    });
    await produce(subscriberCreated(ids), profile, radiusAccountCreated(ids));

    const activated = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivated");
    expect(activated.data).toMatchObject({ s_vlan: 300, c_vlan: null });
    expect(await flowOf(db, tenant, ids.serial)).toMatchObject({ sVlan: 300, cVlan: null });
  });

  it("fails with onu_not_discovered for a serial no PON port has seen (in this tenant: another tenant's ONU does not count)", async () => {
    const ids = freshIds(tenant);
    await discovered({ ...ids, tenant: otherTenant });
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));

    const failed = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivationFailed");
    expect(failed.data).toMatchObject({ onu_serial: ids.serial, code: "onu_not_discovered" });
    expect(await flowOf(db, otherTenant, ids.serial)).toBeNull();
  });

  it("fails with injected_failure and the injected error when a failure is injected for the serial", async () => {
    const ids = freshIds(tenant);
    await discovered(ids);
    await injectFailure(db, tenant, ids.serial, { operation: "activate", error: "LOS on PON port", times: 1 });
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));

    const failed = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivationFailed");
    expect(failed.data).toEqual({ onu_serial: ids.serial, code: "injected_failure", reason: "LOS on PON port" });
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
    expect(lifecycleWatch.about(ids.subscriber).filter((m) => m.type === "OnuActivated")).toEqual([]);
  });

  it("skips a non-FTTH connection type with OnuActivationSkipped", async () => {
    const ids = freshIds(tenant);
    await produce(subscriberCreated(ids, { connection_type: "wireless", onu_serial: null }), radiusAccountCreated(ids));

    const skipped = await lifecycleWatch.waitForType(ids.subscriber, "OnuActivationSkipped");
    expect(skipped.data).toEqual({ connection_type: "wireless", reason: "connection type wireless has no ONU to activate" });
  });

  it("activates once when RadiusAccountCreated comes twice (same event redelivered, and a second one)", async () => {
    const ids = freshIds(tenant);
    await discovered(ids);
    const trigger = radiusAccountCreated(ids);
    const again = radiusAccountCreated(ids);
    await produce(subscriberCreated(ids), trigger, trigger, again);

    await eventually(() => processed(again), "olt to process the second RadiusAccountCreated");
    await lifecycleWatch.waitForType(ids.subscriber, "OnuActivated");
    expect(await causedBy(again)).toEqual([]);
    expect((await causedBy(trigger)).map((r) => r.type)).toEqual(["OnuActivated"]);
  });
});

describe("compensation", () => {
  async function activatedSubscriber(): Promise<Ids> {
    const ids = freshIds(tenant);
    await discovered(ids);
    await produce(subscriberCreated(ids), radiusAccountCreated(ids));
    await lifecycleWatch.waitForType(ids.subscriber, "OnuActivated");
    return ids;
  }

  it("after SubscriberProvisioningFailed (billing never succeeded), deactivates the ONU: OnuDeactivated, flow gone, ONU back to discovered", async () => {
    const ids = await activatedSubscriber();
    const onuId = (await onuOf(db, tenant, ids.serial))?.onuId;
    await produce(provisioningFailed(ids, "billing"));

    const deactivated = await lifecycleWatch.waitForType(ids.subscriber, "OnuDeactivated");
    expect(deactivated.data).toEqual({ onu_id: onuId, onu_serial: ids.serial, reason: "rollback" });
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
    expect((await onuOf(db, tenant, ids.serial))?.state).toBe("discovered");
  });

  it("waits for billing's cancellation when billing had succeeded, then deactivates", async () => {
    const ids = await activatedSubscriber();
    const serviceId = `bill-${ids.subscriber}`;
    const failure = provisioningFailed(ids, "subscriber");
    await produce(lifecycle(ids, "BillingServiceCreated", { service_id: serviceId, service_plan_id: "fiber-250", status: "active" }, "billing"), failure);

    await eventually(() => processed(failure), "olt to process SubscriberProvisioningFailed");
    expect(await causedBy(failure)).toEqual([]); // billing has not undone its part yet
    expect(await flowOf(db, tenant, ids.serial)).not.toBeNull();

    const cancelled = lifecycle(ids, "BillingServiceCancelled", { service_id: serviceId, reason: "rollback" }, "billing");
    await produce(cancelled);
    const deactivated = await lifecycleWatch.waitForType(ids.subscriber, "OnuDeactivated");
    expect(deactivated.meta.causation_id).toBe(cancelled.meta.event_id);
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
  });

  it("does nothing to undo when provisioning failed before its turn (RadiusAccountCreated after the failure)", async () => {
    const ids = freshIds(tenant);
    await discovered(ids);
    const late = radiusAccountCreated(ids);
    await produce(subscriberCreated(ids), provisioningFailed(ids, "deadline"), late);

    await eventually(() => processed(late), "olt to process the late RadiusAccountCreated");
    expect(await causedBy(late)).toEqual([]);
    expect(await flowOf(db, tenant, ids.serial)).toBeNull();
  });
});
