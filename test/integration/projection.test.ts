// The projection on the real stack: lifecycle events the test publishes become service_entities
// documents, served over HTTP by tenant and published as ServiceMetadata on service-metadata.v1.
// Other services may be running on the same topic and react to these events (for a fresh tenant
// they can only fail: no pools, plans, OLTs or prices), so timelines are compared on the events
// this test published.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { resetForReplay } from "../../services/projection/replay.js";
import { definition } from "../../services/projection/service.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka } from "../support/kafka.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { testCodec, watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `t-${run}`;
const producer = testKafka.producer();
let service: RunningService;
let snapshots: Watch;

const network: FiberNetworkConfig = {
  service_vlan: 100,
  inner_vlan: 1000,
  qinq_enabled: true,
  vlan_pool: null,
  circuit_id: "OLT1/1/1/1:1",
  remote_id: null,
  option82_policy: "log",
  static_ipv4: null,
  static_ipv6: null,
  delegated_ipv6_prefix: null,
  ipv6_pd_size: 56,
  ipv6_assignment_mode: "dual_stack",
  ipv4_pool: null,
  ipv6_pool: null,
  ipv6_pd_pool: null,
};
const ips = { ipv4: "100.64.0.7", ipv6: "2001:db8::7", ipv6_prefix: "2001:db8:7::/56", source: "dynamic" };

let clock = 1_700_000_000_000;
function event<K extends EventName>(subscriberId: string, type: K, data: EventData<K>): Message<K> {
  clock += 1000;
  return {
    type,
    meta: { event_id: randomUUID(), occurred_at: clock, tenant_id: tenant, subscriber_id: subscriberId, correlation_id: `order-${subscriberId}`, causation_id: null, producer: "test" },
    data,
  } as Message<K>;
}

const story = {
  created: (id: string) =>
    event(id, "SubscriberCreated", {
      order_id: `order-${id}`,
      subscriber_number: `SUB-${id}`,
      crm_reference: `crm-${id}`,
      customer: { first_name: "John", last_name: "Doe", email: "john@example.com", phone: null },
      service_address: "123 Main St",
      connection_type: "ftth",
      service_plan_id: "residential_100mbps",
      bandwidth_mbps: 100,
      onu_serial: "ALCL12345678",
      network,
      metadata: {},
    }),
  profile: (id: string) => event(id, "NetworkProfileCreated", { profile: { network_profile_id: `p-${id}`, config: network, metadata: {} } }),
  skipped: (id: string) => event(id, "NetworkProfileSkipped", { code: "consumption_disabled", reason: "network profile consumption is disabled", network }),
  ips: (id: string) => event(id, "IpAllocated", { ips }),
  radius: (id: string) => event(id, "RadiusAccountCreated", { username: `${id}@isp`, plan_group: "residential_100mbps" }),
  onu: (id: string) =>
    event(id, "OnuActivated", { onu_id: `onu-${id}`, onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "0/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 }),
  billing: (id: string) => event(id, "BillingServiceCreated", { service_id: `svc-${id}`, service_plan_id: "residential_100mbps", status: "active" }),
  provisioned: (id: string) => event(id, "SubscriberProvisioned", { order_id: `order-${id}` }),
};

/** Event ids this test published. */
const mine = new Set<string>();
type Entry = { event_id: string; event_type: string };
const ours = <T extends Entry>(timeline: unknown): T[] => (timeline as T[]).filter((t) => mine.has(t.event_id));

async function publish(...messages: Message[]): Promise<void> {
  for (const m of messages) {
    mine.add(m.meta.event_id);
    await producer.send({ topic: topics.lifecycle, messages: [{ key: m.meta.subscriber_id ?? "", value: await testCodec.encode(topics.lifecycle, m) }] });
  }
}

let token: string;
const http = async (path: string, as = token) => {
  const res = await fetchAs(as, `http://127.0.0.1:${service.health.port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const statusOf = (m: Message) => (m.type === "ServiceMetadata" ? m.data.status : undefined);
const snapshotsOf = (id: string) => snapshots.about(id).filter((m): m is Message<"ServiceMetadata"> => m.type === "ServiceMetadata");
const waitForStatus = (id: string, status: string) => snapshots.waitFor(id, (ms) => ms.some((m) => statusOf(m) === status));

beforeAll(async () => {
  token = await tokenFor(tenant);
  await producer.connect();
  snapshots = await watch(topics.serviceMetadata);
  service = await runService(definition(), { ...testEnv });
});

afterAll(async () => {
  await service?.stop();
  await snapshots?.stop();
  await producer.disconnect();
});

describe("projection", () => {
  const active = `sub-${run}-active`;

  it("builds the seed-shaped document of a provisioned subscriber and publishes its latest snapshot once per unit of work, keyed by subscriber", async () => {
    const events = [story.created(active), story.profile(active), story.ips(active), story.radius(active), story.onu(active), story.billing(active), story.provisioned(active)];
    await publish(...events);
    await waitForStatus(active, "active");

    const res = await http(`/tenants/${tenant}/subscribers/${active}/service-metadata`);
    expect(res.status).toBe(200);
    expect(ours(res.body.timeline)).toEqual(events.map((e) => ({ at: e.meta.occurred_at, event_type: e.type, event_id: e.meta.event_id, summary: expect.any(String) })));
    expect({ ...res.body, timeline: undefined }).toEqual({
      tenant_id: tenant,
      subscriber_id: active,
      status: "active",
      service_metadata: {
        network_profile: { network_profile_id: `p-${active}`, service_vlan: 100, inner_vlan: 1000, qinq_enabled: true, ipv6_assignment_mode: "dual_stack" },
        allocated_ips: ips,
        devices: { onu_id: `onu-${active}`, cpe_id: null },
        radius: { username: `${active}@isp` },
      },
      timeline: undefined,
      degraded_reasons: [],
    });

    // The topic is compacted: each unit of work publishes a subscriber's document once, caused by
    // the last of its events in that unit. So the causes are some of the events, in order, each
    // once, ending with the last one.
    const snaps = snapshotsOf(active).filter((s) => mine.has(s.meta.causation_id ?? ""));
    const ids = events.map((e) => e.meta.event_id);
    const causes = snaps.map((s) => ids.indexOf(s.meta.causation_id ?? ""));
    expect(causes.length).toBeGreaterThanOrEqual(1);
    expect(causes).toEqual([...new Set(causes)].sort((a, b) => a - b));
    expect(causes.at(-1)).toBe(ids.length - 1);
    const last = snaps.at(-1)!;
    expect(last.data).toMatchObject({ status: "active", allocated_ips: ips, devices: { onu_id: `onu-${active}`, cpe_id: null }, radius: { username: `${active}@isp` } });
    expect(ours(last.data.timeline)).toHaveLength(7);
    expect(last.meta).toMatchObject({ tenant_id: tenant, subscriber_id: active, correlation_id: `order-${active}`, producer: "projection" });
    expect(events.map((e) => e.meta.event_id)).not.toContain(last.meta.event_id);
    const raw = snapshots.seen.find((s) => s.message === last)!.raw;
    expect(raw.key?.toString()).toBe(active);
  });

  it("applies a redelivered event once: no second timeline entry, no second snapshot", async () => {
    const suspended = event(active, "SubscriberSuspended", { order_id: `order-${active}-s` });
    await publish(suspended, suspended);
    const marker = event(active, "SubscriberResumed", { order_id: `order-${active}-r` });
    await publish(marker);
    await snapshots.waitFor(active, (ms) => ms.some((m) => m.meta.causation_id === marker.meta.event_id));
    // At most one (none when the marker came in the same unit of work: one snapshot for both).
    expect(snapshotsOf(active).filter((s) => s.meta.causation_id === suspended.meta.event_id).length).toBeLessThanOrEqual(1);
    const doc = await http(`/tenants/${tenant}/subscribers/${active}/service-metadata`);
    const timeline = ours(doc.body.timeline);
    expect(timeline.filter((t) => t.event_id === suspended.meta.event_id)).toHaveLength(1);
    expect(doc.body.status).toBe("active");
  });

  it("marks a subscriber provisioned without a network profile as degraded, network_profile null", async () => {
    const id = `sub-${run}-degraded`;
    await publish(story.created(id), story.skipped(id), story.ips(id), story.radius(id), story.onu(id), story.billing(id), story.provisioned(id));
    await waitForStatus(id, "degraded");
    const res = await http(`/tenants/${tenant}/subscribers/${id}/service-metadata`);
    expect(res.body).toMatchObject({ status: "degraded", degraded_reasons: ["network profile skipped: network profile consumption is disabled"] });
    expect((res.body.service_metadata as { network_profile: unknown }).network_profile).toBeNull();
  });

  it("clears compensated parts on a rollback and keeps them in the timeline", async () => {
    const id = `sub-${run}-rolledback`;
    await publish(
      story.created(id),
      story.profile(id),
      story.ips(id),
      event(id, "SubscriberProvisioningFailed", { code: null, order_id: `order-${id}`, step: "radius", reason: "no RADIUS plan" }),
      event(id, "IpReleased", { ips, reason: "rollback" }),
      event(id, "NetworkProfileDeleted", { network_profile_id: `p-${id}`, soft_deleted: true, reason: "rollback" }),
      event(id, "SubscriberProvisioningRolledBack", { order_id: `order-${id}`, compensated: ["ipam", "profile"] }),
    );
    await waitForStatus(id, "rolled_back");
    const res = await http(`/tenants/${tenant}/subscribers/${id}/service-metadata`);
    expect(res.body.service_metadata).toEqual({ network_profile: null, allocated_ips: null, devices: { onu_id: null, cpe_id: null }, radius: { username: null } });
    expect(ours(res.body.timeline).map((t) => t.event_type)).toEqual([
      "SubscriberCreated",
      "NetworkProfileCreated",
      "IpAllocated",
      "SubscriberProvisioningFailed",
      "IpReleased",
      "NetworkProfileDeleted",
      "SubscriberProvisioningRolledBack",
    ]);
  });

  it("answers 404 for another tenant's subscriber and lists a tenant's subscribers by status", async () => {
    const other = `t-${run}-other`;
    const otherToken = await tokenFor(other);
    expect((await http(`/tenants/${other}/subscribers/${active}/service-metadata`, otherToken)).status).toBe(404);
    expect((await http(`/tenants/${tenant}/subscribers/sub-${run}-nobody/service-metadata`)).status).toBe(404);
    const ids = (body: Record<string, unknown>) => (body.items as { subscriber_id: string }[]).map((i) => i.subscriber_id);
    expect(ids((await http(`/tenants/${tenant}/subscribers`)).body).sort()).toEqual([active, `sub-${run}-degraded`, `sub-${run}-rolledback`].sort());
    expect(ids((await http(`/tenants/${tenant}/subscribers?status=rolled_back`)).body)).toEqual([`sub-${run}-rolledback`]);
    expect(ids((await http(`/tenants/${other}/subscribers`, otherToken)).body)).toEqual([]);
    // A token of one tenant cannot read, or enumerate, another's.
    const notFound = await http(`/tenants/${tenant}/subscribers/sub-${run}-nobody/service-metadata`);
    expect(await http(`/tenants/${tenant}/subscribers/${active}/service-metadata`, otherToken)).toEqual(notFound);
    expect(await http(`/tenants/${tenant}/subscribers`, otherToken)).toEqual(notFound);
    expect(await http(`/tenants/${tenant}/subscribers?status=active`, otherToken)).toEqual(notFound);
    expect((await http(`/tenants/${tenant}/subscribers?status=bogus`)).status).toBe(400);
  });

  // Folds the whole lifecycle history again: its duration grows with the topic (~80 events/s here).
  it("rebuilds equal documents on a replay from offset 0", { timeout: 600_000 }, async () => {
    // Foreign events (failures of other services) may still arrive: compare what this test's events decide.
    const comparable = (items: unknown) =>
      (items as Record<string, unknown>[]).map((d) => ({ ...d, timeline: ours(d.timeline) }));
    const before = comparable((await http(`/tenants/${tenant}/subscribers`)).body.items);
    expect(before).toHaveLength(3);
    await service.stop();
    const { sql, db } = connect(testEnv.DATABASE_URL);
    try {
      await resetForReplay(testKafka, db);
    } finally {
      await sql.end();
    }
    service = await runService(definition(), { ...testEnv });
    expect((await http(`/tenants/${tenant}/subscribers/${active}/service-metadata`)).status).toBe(404); // emptied, not yet folded
    await expect
      .poll(async () => comparable((await http(`/tenants/${tenant}/subscribers`)).body.items), { timeout: 570_000, interval: 500 })
      .toEqual(before);
  });
});
