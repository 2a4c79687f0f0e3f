// The profile service on the real stack: its store (the seed's network profile service tests),
// its HTTP read, and the events it emits on subscriber.lifecycle.v1. Other services may run on
// the same topic and react to these events; for a fresh tenant they can only fail (no pools,
// plans, OLTs or prices), so assertions look at the profile service's own events.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { disabledReason } from "../../services/profile/decide.js";
import { definition } from "../../services/profile/service.js";
import { getBySubscriber, softDelete, upsertProfile, writebackIps } from "../../services/profile/store/profiles.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka } from "../support/kafka.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { testCodec, watch, type Watch } from "../support/watch.js";
import { network as storyNetwork } from "../support/story.js";

const run = runId();
const tenant = `t-${run}`;
const otherTenant = `t-${run}-other`;
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
let service: RunningService;
let lifecycle: Watch;

const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ vlan_pool: "residential", circuit_id: "OLT1/1/1/1:1", remote_id: "FTTH-CPE-12345", ipv6_pd_size: 56, ipv6_assignment_mode: "dual_stack", ...over });

function event<K extends EventName>(subscriberId: string, type: K, data: EventData<K>, tenantId = tenant): Message<K> {
  return {
    type,
    meta: {
      event_id: randomUUID(),
      occurred_at: Date.now(),
      tenant_id: tenantId,
      subscriber_id: subscriberId,
      correlation_id: `order-${subscriberId}`,
      causation_id: null,
      producer: "test",
    },
    data,
  } as Message<K>;
}

const subscriberCreated = (subscriberId: string, net: FiberNetworkConfig) =>
  event(subscriberId, "SubscriberCreated", {
    order_id: `order-${subscriberId}`,
    subscriber_number: `SUB-${subscriberId}`,
    crm_reference: `crm-${subscriberId}`,
    customer: { first_name: "John", last_name: "Doe", email: "john@example.com", phone: null },
    service_address: "123 Main St",
    connection_type: "ftth",
    service_plan_id: "residential_100mbps",
    bandwidth_mbps: 100,
    onu_serial: "ALCL12345678",
    network: net,
    metadata: { custom_field: "value" },
  });

async function publish(...messages: Message[]): Promise<void> {
  for (const m of messages) {
    await producer.send({ topic: topics.lifecycle, messages: [{ key: m.meta.subscriber_id ?? "", value: await testCodec.encode(topics.lifecycle, m) }] });
  }
}

const sub = (n: string) => `sub-${run}-${n}`;
// A VLAN pair of this run only, so no other run's live profile holds it.
const vlanBase = 1 + (parseInt(run.slice(-4), 16) % 3000);

let token: string;
const http = async (path: string, as = token) => {
  const res = await fetchAs(as, `http://127.0.0.1:${service.health.port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  token = await tokenFor(tenant);
  await producer.connect();
  lifecycle = await watch(topics.lifecycle);
  service = await runService(definition(), { ...testEnv });
});

afterAll(async () => {
  await service?.stop();
  await lifecycle?.stop();
  await producer.disconnect();
  await sql.end();
});

describe("network profile store", () => {
  const fields = { ...network({ service_vlan: 200, inner_vlan: null, qinq_enabled: false }), metadata: { custom_field: "value" } };

  it("test_upsert_profile_creates_new", async () => {
    const id = randomUUID();
    const row = await upsertProfile(db, tenant, sub("store-new"), fields, id);
    expect(row).toMatchObject({ id, tenantId: tenant, subscriberId: sub("store-new"), serviceVlan: 200, circuitId: "OLT1/1/1/1:1", ipv6AssignmentMode: "dual_stack", metadata: { custom_field: "value" }, deletedAt: null });
  });

  it("test_upsert_profile_updates_existing: same row, given fields changed, the others kept", async () => {
    const id = randomUUID();
    await upsertProfile(db, tenant, sub("store-upd"), fields, id);
    const row = await upsertProfile(db, tenant, sub("store-upd"), { service_vlan: 300, option82_policy: "enforce" }, randomUUID());
    expect(row).toMatchObject({ id, serviceVlan: 300, option82Policy: "enforce", circuitId: "OLT1/1/1/1:1", ipv6PdSize: 56 });
  });

  it("test_upsert_profile_writeback_ips", async () => {
    await upsertProfile(db, tenant, sub("store-wb"), fields, randomUUID());
    const row = await writebackIps(db, tenant, sub("store-wb"), { static_ipv4: "100.64.0.9", static_ipv6: "2001:db8::9", delegated_ipv6_prefix: "2001:db8:9::/56" });
    expect(row).toMatchObject({ staticIpv4: "100.64.0.9", staticIpv6: "2001:db8::9", delegatedIpv6Prefix: "2001:db8:9::/56", serviceVlan: 200 });
  });

  it("test_get_by_subscriber_id", async () => {
    const id = randomUUID();
    await upsertProfile(db, tenant, sub("store-get"), fields, id);
    expect((await getBySubscriber(db, tenant, sub("store-get")))?.id).toBe(id);
    expect(await getBySubscriber(db, tenant, sub("store-nobody"))).toBeNull();
  });

  it("test_delete_profile_soft_delete: deleted_at set, VLAN / IPs / Option 82 kept, hidden unless include_deleted", async () => {
    await upsertProfile(db, tenant, sub("store-del"), { ...fields, static_ipv4: "100.64.0.10" }, randomUUID());
    const deleted = await softDelete(db, tenant, sub("store-del"));
    expect(deleted?.deletedAt).toBeInstanceOf(Date);
    expect(await getBySubscriber(db, tenant, sub("store-del"))).toBeNull();
    expect(await getBySubscriber(db, tenant, sub("store-del"), { includeDeleted: true })).toMatchObject({
      serviceVlan: 200,
      staticIpv4: "100.64.0.10",
      circuitId: "OLT1/1/1/1:1",
      remoteId: "FTTH-CPE-12345",
      option82Policy: "log",
    });
    expect(await softDelete(db, tenant, sub("store-del"))).toBeNull(); // already deleted
    expect((await http(`/tenants/${tenant}/subscribers/${sub("store-del")}/network-profile`)).status).toBe(404);
    const withDeleted = await http(`/tenants/${tenant}/subscribers/${sub("store-del")}/network-profile?include_deleted=true`);
    expect(withDeleted.status).toBe(200);
    expect(withDeleted.body).toMatchObject({ service_vlan: 200, static_ipv4: "100.64.0.10", circuit_id: "OLT1/1/1/1:1" });
    expect(withDeleted.body.deleted_at).toEqual(expect.any(String));
  });

  it("keeps tenants apart: another tenant can neither see nor change a profile", async () => {
    await upsertProfile(db, tenant, sub("store-iso"), fields, randomUUID());
    expect(await getBySubscriber(db, otherTenant, sub("store-iso"), { includeDeleted: true })).toBeNull();
    expect(await writebackIps(db, otherTenant, sub("store-iso"), { static_ipv4: "1.2.3.4", static_ipv6: null, delegated_ipv6_prefix: null })).toBeNull();
    expect(await softDelete(db, otherTenant, sub("store-iso"))).toBeNull();
    expect(await getBySubscriber(db, tenant, sub("store-iso"))).toMatchObject({ staticIpv4: null, deletedAt: null });
    const otherToken = await tokenFor(otherTenant);
    expect((await http(`/tenants/${otherTenant}/subscribers/${sub("store-iso")}/network-profile`, otherToken)).status).toBe(404);
    expect((await http(`/tenants/${tenant}/subscribers/${sub("store-iso")}/network-profile`)).status).toBe(200);
    // The other tenant's token gets exactly what a profile that does not exist gets.
    const missing = await http(`/tenants/${tenant}/subscribers/${sub("nobody")}/network-profile`);
    expect(missing.status).toBe(404);
    expect(await http(`/tenants/${tenant}/subscribers/${sub("store-iso")}/network-profile`, otherToken)).toEqual(missing);
  });
});

describe("profile service on subscriber.lifecycle.v1", () => {
  it("creates the profile from SubscriberCreated, announces NetworkProfileCreated once (duplicate delivery) and serves it over HTTP", async () => {
    const id = sub("created");
    const net = network({ service_vlan: vlanBase, inner_vlan: 10 });
    const created = subscriberCreated(id, net);
    await publish(created, created);
    const announced = await lifecycle.waitForType(id, "NetworkProfileCreated");
    expect(announced.meta).toMatchObject({ tenant_id: tenant, subscriber_id: id, causation_id: created.meta.event_id, correlation_id: `order-${id}`, producer: "profile" });
    expect(announced.data.profile).toMatchObject({ config: net, metadata: { custom_field: "value" } });
    const row = await getBySubscriber(db, tenant, id);
    expect(row?.id).toBe(announced.data.profile.network_profile_id);
    const res = await http(`/tenants/${tenant}/subscribers/${id}/network-profile`);
    expect(res).toMatchObject({ status: 200, body: { network_profile_id: row?.id, service_vlan: vlanBase, inner_vlan: 10, qinq_enabled: true, deleted_at: null } });

    // A later event of the subscriber, processed after both copies, proves the second copy did nothing.
    await publish(event(id, "IpAllocated", { ips: { ipv4: "100.64.1.1", ipv6: null, ipv6_prefix: null, source: "dynamic" } }));
    await lifecycle.waitForType(id, "NetworkProfileUpdated");
    expect(lifecycle.about(id).filter((m) => m.type === "NetworkProfileCreated")).toHaveLength(1);
  });

  it("writes dynamic IPs back to the profile: NetworkProfileUpdated with change ip_writeback", async () => {
    const id = sub("writeback");
    await publish(subscriberCreated(id, network({ service_vlan: vlanBase, inner_vlan: 11 })));
    const created = await lifecycle.waitForType(id, "NetworkProfileCreated");
    const allocated = event(id, "IpAllocated", { ips: { ipv4: "100.64.0.7", ipv6: "2001:db8::7", ipv6_prefix: "2001:db8:7::/56", source: "dynamic" } });
    await publish(allocated);
    const updated = await lifecycle.waitForType(id, "NetworkProfileUpdated");
    expect(updated.meta.causation_id).toBe(allocated.meta.event_id);
    expect(updated.data).toEqual({
      change: "ip_writeback",
      profile: { ...created.data.profile, config: { ...created.data.profile.config, static_ipv4: "100.64.0.7", static_ipv6: "2001:db8::7", delegated_ipv6_prefix: "2001:db8:7::/56" } },
    });
    expect(await getBySubscriber(db, tenant, id)).toMatchObject({ staticIpv4: "100.64.0.7", staticIpv6: "2001:db8::7", delegatedIpv6Prefix: "2001:db8:7::/56" });
  });

  it("refuses (vlan_in_use) an order whose QinQ pair another live subscriber of the tenant holds: the order fails, it is not skipped", async () => {
    const first = sub("pair-1");
    const second = sub("pair-2");
    const net = network({ service_vlan: vlanBase, inner_vlan: 12 });
    await publish(subscriberCreated(first, net));
    await lifecycle.waitForType(first, "NetworkProfileCreated");
    await publish(subscriberCreated(second, net));
    const refused = await lifecycle.waitForType(second, "NetworkProfileCreationFailed");
    expect(refused.data).toEqual({ code: "vlan_in_use", reason: `QinQ VLAN pair ${vlanBase}/12 already belongs to subscriber ${first}` });
    expect(lifecycle.about(second).map((m) => m.type)).not.toContain("NetworkProfileSkipped");
    expect(await getBySubscriber(db, tenant, second, { includeDeleted: true })).toBeNull();
  });

  it("in one unit of work (profiles and pair holders read ahead for all), a pair taken earlier in the unit is refused, a write-back finds the profile created in it", async () => {
    // The reactor driven directly with one unit of several events, as one large fetch gives it.
    const [a, b, c] = [sub("unit-a"), sub("unit-b"), sub("unit-c")];
    const net = network({ service_vlan: vlanBase, inner_vlan: 21 });
    const allocated = event(a, "IpAllocated", { ips: { ipv4: "100.64.0.8", ipv6: null, ipv6_prefix: null, source: "dynamic" } });
    const messages = [subscriberCreated(a, net), subscriberCreated(b, net), allocated, subscriberCreated(c, network({ service_vlan: vlanBase, inner_vlan: 22 }))];
    const reactor = definition().reactor(service.deps as Parameters<ReturnType<typeof definition>["reactor"]>[0]);
    await reactor.run(messages.map((message, i) => ({ message, delivery: { topic: topics.lifecycle, partition: 0, offset: String(4_000_000 + i), headers: {} }, log: service.deps.logger })));

    const emitted = await sql<{ subscriber_id: string; type: string; data: { reason?: string } }[]>`
      select meta->>'subscriber_id' as subscriber_id, type, data from profile.outbox where meta->>'subscriber_id' in (${a}, ${b}, ${c}) order by id`;
    expect(emitted.map((e) => `${e.subscriber_id === a ? "a" : e.subscriber_id === b ? "b" : "c"} ${e.type}`)).toEqual([
      "a NetworkProfileCreated",
      "b NetworkProfileCreationFailed",
      "a NetworkProfileUpdated",
      "c NetworkProfileCreated",
    ]);
    expect(emitted[1]?.data.reason).toBe(`QinQ VLAN pair ${vlanBase}/21 already belongs to subscriber ${a}`);
    expect(await getBySubscriber(db, tenant, a)).toMatchObject({ staticIpv4: "100.64.0.8" });
    expect(await getBySubscriber(db, tenant, b, { includeDeleted: true })).toBeNull();
  });

  it("skips when the store rejects the profile (a constraint), and keeps consuming", async () => {
    const id = sub("bad-vlan");
    const net = network({ service_vlan: 5000, inner_vlan: 15 });
    await publish(subscriberCreated(id, net));
    const skipped = await lifecycle.waitForType(id, "NetworkProfileSkipped");
    expect(skipped.data).toEqual({ reason: "constraint service_vlan_range violated", network: net, code: "not_stored" });
    expect(await getBySubscriber(db, tenant, id, { includeDeleted: true })).toBeNull();
    const after = sub("bad-vlan-after");
    await publish(subscriberCreated(after, network({ service_vlan: vlanBase, inner_vlan: 16 })));
    await lifecycle.waitForType(after, "NetworkProfileCreated");
  });

  it("test_provision_rollback_deletes_profile: after the IPs are released, soft-deletes and announces NetworkProfileDeleted", async () => {
    const id = sub("rollback");
    await publish(subscriberCreated(id, network({ service_vlan: vlanBase, inner_vlan: 13 })));
    const created = await lifecycle.waitForType(id, "NetworkProfileCreated");
    const ips = { ipv4: "100.64.0.8", ipv6: null, ipv6_prefix: null, source: "order_static" };
    await publish(
      event(id, "IpAllocated", { ips }), // static: nothing to write back
      event(id, "SubscriberProvisioningFailed", { code: null, order_id: `order-${id}`, step: "radius", reason: "no RADIUS plan" }), // ipam not undone yet: wait
    );
    const released = event(id, "IpReleased", { ips, reason: "rollback" });
    await publish(released);
    const deleted = await lifecycle.waitForType(id, "NetworkProfileDeleted");
    expect(deleted.data).toEqual({ network_profile_id: created.data.profile.network_profile_id, soft_deleted: true, reason: "rollback" });
    // Only once the IPs are back: the first IpReleased of the subscriber (ours, or an IPAM service
    // running beside this test that compensates on the same failure) is what lets the profile go.
    const firstRelease = lifecycle.about(id).find((m) => m.type === "IpReleased");
    expect(deleted.meta.causation_id).toBe(firstRelease?.meta.event_id);
    expect(lifecycle.about(id).filter((m) => m.type === "NetworkProfileDeleted")).toHaveLength(1);
    expect(lifecycle.about(id).map((m) => m.type)).not.toContain("NetworkProfileUpdated");
    const row = await getBySubscriber(db, tenant, id, { includeDeleted: true });
    expect(row).toMatchObject({ serviceVlan: vlanBase, innerVlan: 13, circuitId: "OLT1/1/1/1:1" });
    expect(row?.deletedAt).toBeInstanceOf(Date);
    // The pair is free again for another subscriber.
    const next = sub("rollback-next");
    await publish(subscriberCreated(next, network({ service_vlan: vlanBase, inner_vlan: 13 })));
    await lifecycle.waitForType(next, "NetworkProfileCreated");
  });

  it("skips every profile with ENABLE_NETWORK_PROFILE_CONSUMPTION=false: the order's network goes on", async () => {
    await service.stop();
    service = await runService(definition(), { ...testEnv, ENABLE_NETWORK_PROFILE_CONSUMPTION: "false" });
    const id = sub("flag-off");
    const net = network({ service_vlan: vlanBase, inner_vlan: 14 });
    await publish(subscriberCreated(id, net));
    const skipped = await lifecycle.waitForType(id, "NetworkProfileSkipped");
    expect(skipped.data).toEqual({ reason: disabledReason, network: net, code: "consumption_disabled" });
    expect(await getBySubscriber(db, tenant, id, { includeDeleted: true })).toBeNull();
  });
});
