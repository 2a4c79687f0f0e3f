// The subscriber service on the real stack: order intake (rejection with every reason,
// acceptance with legacy keys mapped, one subscriber per order id), the provisioning outcome
// (provisioned, failed and rolled back) and the deadline sweep, plus the read route and the CLI.
import { spawnSync } from "node:child_process";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { definition } from "../../services/subscriber/service.js";
import { addPlan } from "../../services/subscriber/store/plans.js";
import { subscribers } from "../../services/subscriber/store/schema.js";
import { repoRoot } from "../../scripts/run-services.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka } from "../support/kafka.js";
import { nodeArgs } from "../support/process.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { testCodec, watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `t-${run}`;
const otherTenant = `t-${run}-other`;
const deadlineTenant = `t-${run}-deadline`;
// Short, yet long enough for a loaded shared machine to pass one event between two services.
const deadlineMs = 5_000;
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer({ idempotent: true });
let service: RunningService;
let lifecycle: Watch;
let status: Watch;
let n = 0;
const fresh = (what: string) => `${what}-${run}-${++n}`;

type OrderFields = Partial<EventData<"ProvisionOrderPlaced">>;

function provisionOrder(orderId: string, fields: OrderFields = {}, tenantId = tenant): Message<"ProvisionOrderPlaced"> {
  return {
    type: "ProvisionOrderPlaced",
    meta: { event_id: fresh("evt"), occurred_at: Date.now(), tenant_id: tenantId, subscriber_id: null, correlation_id: orderId, causation_id: null, producer: "crm" },
    data: {
      order_id: orderId, crm_reference: `CRM-${run}`, first_name: "John", last_name: "Doe", email: "john@example.com", phone: "+1234567890",
      service_address: "123 Main St", connection_type: "ftth", service_plan_id: "res-100", bandwidth_mbps: null, onu_serial: "ALCL12345678",
      service_vlan: null, inner_vlan: null, qinq_enabled: null, vlan_pool: null, circuit_id: null, remote_id: null, option82_policy: null,
      static_ipv4: null, static_ipv6: null, delegated_ipv6_prefix: null, ipv6_pd_size: null, ipv6_assignment_mode: null,
      ipv4_pool: null, ipv6_pool: null, ipv6_pd_pool: null, vlan_id: null, ipv4_address: null, ipv6_address: null, metadata: {},
      ...fields,
    },
  };
}

function lifecycleEvent<K extends EventName>(type: K, sub: { id: string; orderId: string; tenant?: string }, data: EventData<K>): Message<K> {
  return {
    type,
    meta: { event_id: fresh("evt"), occurred_at: Date.now(), tenant_id: sub.tenant ?? tenant, subscriber_id: sub.id, correlation_id: sub.orderId, causation_id: null, producer: "test" },
    data,
  } as Message<K>;
}

async function publish(topic: string, key: string, ...messages: Message[]): Promise<void> {
  const encoded = await Promise.all(messages.map(async (m) => ({ key, value: await testCodec.encode(topic, m) })));
  await producer.send({ topic, acks: -1, messages: encoded });
}

const placeOrder = (o: Message<"ProvisionOrderPlaced">) => publish(topics.crmOrders, o.data.crm_reference, o);
const emit = (subId: string, ...ms: Message[]) => publish(topics.lifecycle, subId, ...ms);

/** Places a valid order and returns the subscriber the service created for it. */
async function created(orderId: string, fields: OrderFields = {}, tenantId = tenant): Promise<{ id: string; orderId: string; tenant: string; event: Message<"SubscriberCreated"> }> {
  await placeOrder(provisionOrder(orderId, fields, tenantId));
  const event = await lifecycle.waitForType(orderId, "SubscriberCreated");
  return { id: event.meta.subscriber_id ?? "", orderId, tenant: tenantId, event };
}

const rowsOf = (tenantId: string, orderId: string) =>
  db.select().from(subscribers).where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.orderId, orderId)));

const typesAbout = (w: Watch, id: string) => w.about(id).map((m) => m.type);
/** What this service said about `id` (other teams' services may be reacting on the shared topic too). */
const saidAbout = (w: Watch, id: string) => w.about(id).filter((m) => m.meta.producer === "subscriber").map((m) => m.type);

const network = {
  service_vlan: 100, inner_vlan: null, qinq_enabled: false, vlan_pool: null, circuit_id: null, remote_id: null, option82_policy: "log",
  static_ipv4: null, static_ipv6: null, delegated_ipv6_prefix: null, ipv6_pd_size: null, ipv6_assignment_mode: "none",
  ipv4_pool: null, ipv6_pool: null, ipv6_pd_pool: null,
};
const ips = { ipv4: "100.64.7.9", ipv6: null, ipv6_prefix: null, source: "dynamic" };

beforeAll(async () => {
  service = await runService(definition(), {
    ...testEnv,
    PROVISIONING_DEADLINE_MS: String(deadlineMs),
    LIFECYCLE_ORDER_DEADLINE_MS: String(deadlineMs),
    DEADLINE_SWEEP_MS: "200",
    // A short deadline on a shared database: only this run's deadline tenant is swept.
    DEADLINE_SWEEP_TENANTS: deadlineTenant,
  });
  for (const t of [tenant, deadlineTenant]) await addPlan(db, { tenantId: t, planId: "res-100", name: "Residential 100", bandwidthMbps: 100 });
  await producer.connect();
  [lifecycle, status] = await Promise.all([watch(topics.lifecycle), watch(topics.orderStatus)]);
});

afterAll(async () => {
  await Promise.all([lifecycle?.stop(), status?.stop()]);
  await service?.stop();
  await producer.disconnect();
  await sql.end();
});

describe("order intake", () => {
  it("rejects an invalid order with every reason at once on crm.order-status.v1 and creates nothing", async () => {
    const bad = provisionOrder(fresh("order-bad"), {
      service_vlan: 5000, inner_vlan: 10, option82_policy: "sometimes", ipv6_assignment_mode: "ipv7", ipv6_pd_size: 70,
      static_ipv4: "300.1.1.1", ipv6_address: "not-ipv6", delegated_ipv6_prefix: "2001:db8::/32", service_plan_id: "gold", email: "nope",
    });
    const noTenant = provisionOrder(fresh("order-no-tenant"), {}, "");
    const marker = provisionOrder(fresh("order-marker")); // same key, so processed after both
    for (const o of [bad, noTenant, marker]) await placeOrder(o);

    const rejected = await status.waitForType(bad.data.order_id, "OrderRejected");
    expect(rejected.data.order_type).toBe("provision");
    expect(rejected.data.reasons.map((r) => `${r.field}:${r.code}`).sort()).toEqual(
      [
        "service_vlan:vlan_out_of_range", "inner_vlan:inner_vlan_without_qinq", "option82_policy:unknown_option82_policy",
        "ipv6_assignment_mode:unknown_ipv6_mode", "ipv6_pd_size:pd_size_out_of_range", "static_ipv4:invalid_ipv4",
        "ipv6_address:invalid_ipv6", "delegated_ipv6_prefix:invalid_ipv6_prefix", "service_plan_id:unknown_plan", "email:invalid_email",
      ].sort(),
    );
    expect(rejected.meta).toMatchObject({ tenant_id: tenant, subscriber_id: null, correlation_id: bad.data.order_id, causation_id: bad.meta.event_id, producer: "subscriber" });
    const rejectedRaw = status.seen.find((s) => s.message.meta.event_id === rejected.meta.event_id);
    expect(rejectedRaw?.raw.key?.toString()).toBe(bad.data.order_id);

    const tenantless = await status.waitForType(noTenant.data.order_id, "OrderRejected");
    expect(tenantless.data.reasons.map((r) => r.code)).toEqual(["missing_tenant"]);

    await lifecycle.waitForType(marker.data.order_id, "SubscriberCreated");
    expect(typesAbout(status, bad.data.order_id)).toEqual(["OrderRejected"]);
    expect(typesAbout(lifecycle, bad.data.order_id)).toEqual([]);
    expect(typesAbout(lifecycle, noTenant.data.order_id)).toEqual([]);
    expect(await rowsOf(tenant, bad.data.order_id)).toHaveLength(0);
  });

  it("refuses what is too long (never quoting it back), an unknown tenant, and dead-letters an order id it could not answer on", async () => {
    const dlq = await watch(dlqTopic("subscriber"));
    try {
      const huge = provisionOrder(fresh("order-huge"), { first_name: "x".repeat(300 * 1024), metadata: { note: "n".repeat(501) } });
      const stranger = provisionOrder(fresh("order-stranger"), {}, `t-${run}-nobody`);
      const unanswerable = provisionOrder("o".repeat(200));
      const corr = fresh("corr-long-id");
      const longId = { ...unanswerable, meta: { ...unanswerable.meta, correlation_id: corr } };
      const marker = provisionOrder(fresh("order-marker"));
      for (const o of [huge, stranger, longId, marker]) await placeOrder(o);

      const tooLong = await status.waitForType(huge.data.order_id, "OrderRejected");
      expect(tooLong.data.reasons.map((r) => `${r.field}:${r.code}`)).toEqual(["first_name:too_long", "metadata:too_long"]);
      const raw = status.seen.find((x) => x.message.meta.event_id === tooLong.meta.event_id)?.raw;
      expect(raw?.value?.length).toBeLessThan(4_096); // the 300 KB name is not in it
      const unknown = await status.waitForType(stranger.data.order_id, "OrderRejected");
      expect(unknown.data.reasons.map((r) => `${r.field}:${r.code}`)).toEqual(["tenant_id:unknown_tenant"]);
      const [dead] = await dlq.waitFor(corr, (ms) => ms.length > 0);
      expect(dead?.type).toBe("ProvisionOrderPlaced");
      const deadRaw = dlq.seen.find((x) => x.message.meta.correlation_id === corr)?.raw;
      expect(deadRaw?.headers?.["dlq-code"]?.toString()).toBe("invalid");
      expect(deadRaw?.headers?.["dlq-reason"]?.toString()).toContain("order_id is 200 characters long");

      await lifecycle.waitForType(marker.data.order_id, "SubscriberCreated");
      for (const o of [huge, stranger]) expect(typesAbout(lifecycle, o.data.order_id)).toEqual([]);
      expect(status.about(corr)).toEqual([]);
      expect(await rowsOf(tenant, huge.data.order_id)).toHaveLength(0);
    } finally {
      await dlq.stop();
    }
  });

  it("accepts a valid order with legacy keys mapped: SubscriberCreated + OrderAccepted, a row, and the read route", async () => {
    const orderId = fresh("order-legacy");
    await placeOrder(provisionOrder(orderId, { vlan_id: 321, ipv4_address: "10.0.1.100", ipv6_address: "2001:DB8::1", static_ipv6: null }));
    const createdEvent = await lifecycle.waitForType(orderId, "SubscriberCreated");
    const accepted = await status.waitForType(orderId, "OrderAccepted");
    const id = createdEvent.meta.subscriber_id ?? "";

    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(createdEvent.data.network).toMatchObject({ service_vlan: 321, static_ipv4: "10.0.1.100", static_ipv6: "2001:db8::1", qinq_enabled: false, option82_policy: "log", ipv6_assignment_mode: "none" });
    expect(createdEvent.data).toMatchObject({ order_id: orderId, bandwidth_mbps: 100, service_plan_id: "res-100", connection_type: "ftth", onu_serial: "ALCL12345678" });
    expect(createdEvent.data.subscriber_number).toMatch(/^SUB-\d{6}$/);
    expect(accepted.data).toEqual({ order_id: orderId, order_type: "provision", subscriber_id: id, subscriber_number: createdEvent.data.subscriber_number });
    expect(lifecycle.seen.find((s) => s.message.meta.event_id === createdEvent.meta.event_id)?.raw.key?.toString()).toBe(id);
    expect(status.seen.find((s) => s.message.meta.event_id === accepted.meta.event_id)?.raw.key?.toString()).toBe(orderId);

    const [row] = await rowsOf(tenant, orderId);
    expect(row).toMatchObject({ subscriberId: id, status: "provisioning", subscriberNumber: createdEvent.data.subscriber_number, crmReference: `CRM-${run}` });

    const base = `http://127.0.0.1:${service.health.port}`;
    const [token, otherToken] = [await tokenFor(tenant), await tokenFor(otherTenant)];
    const mine = await fetchAs(token, `${base}/tenants/${tenant}/subscribers/${id}`);
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ subscriber_id: id, order_id: orderId, status: "provisioning", subscriber_number: createdEvent.data.subscriber_number });
    expect((await fetchAs(otherToken, `${base}/tenants/${otherTenant}/subscribers/${id}`)).status).toBe(404);
    const missing = await fetchAs(token, `${base}/tenants/${tenant}/subscribers/not-a-uuid`);
    expect(missing.status).toBe(404);
    // Another tenant's token gets exactly what a subscriber that does not exist gets.
    const foreign = await fetchAs(otherToken, `${base}/tenants/${tenant}/subscribers/${id}`);
    expect([foreign.status, await foreign.json()]).toEqual([404, await missing.json()]);
    expect((await fetch(`${base}/tenants/${tenant}/subscribers/${id}`)).status).toBe(401);
  });

  it("numbers a tenant's subscribers in sequence", async () => {
    const first = await created(fresh("order-seq"));
    const second = await created(fresh("order-seq"));
    const num = (s: { event: Message<"SubscriberCreated"> }) => Number(s.event.data.subscriber_number.slice(4));
    expect(num(second)).toBe(num(first) + 1);
  });

  it("makes the same order id, sent twice with different event ids, one subscriber", async () => {
    const orderId = fresh("order-twice");
    await placeOrder(provisionOrder(orderId));
    await placeOrder(provisionOrder(orderId, { service_vlan: 9999 })); // a second send is not judged again
    const marker = await created(fresh("order-marker"));
    expect(marker.id).not.toBe("");
    expect(saidAbout(lifecycle, orderId)).toEqual(["SubscriberCreated"]);
    expect(typesAbout(status, orderId)).toEqual(["OrderAccepted"]);
    expect(await rowsOf(tenant, orderId)).toHaveLength(1);
  });
});

describe("order intake, one unit of work", () => {
  // The intake driven directly with one unit of work of several orders (as one large fetch
  // gives it): the orders already accepted are read for all at once, the numbers counted in
  // memory and the counter written once, the rows written in one statement before commit.
  it("numbers the unit's subscribers in sequence, takes an order id twice in one unit as one order, and writes each row once", async () => {
    const [counter] = await sql<{ last: number }[]>`select coalesce((select last_value from subscriber.subscriber_numbers where tenant_id = ${tenant}), 0) as last`;
    const before = counter?.last ?? 0;
    const [a, b, c] = [fresh("order-unit"), fresh("order-unit"), fresh("order-unit")];
    const orders = [provisionOrder(a), provisionOrder(b), provisionOrder(a, { service_vlan: 9999 }), provisionOrder(c)];
    const reactor = definition().reactor(service.deps as Parameters<ReturnType<typeof definition>["reactor"]>[0]);
    await reactor.run(orders.map((message, i) => ({ message, delivery: { topic: topics.crmOrders, partition: 0, offset: String(2_000_000 + i), headers: {} }, log: service.deps.logger })));

    const rows = await sql<{ order_id: string; subscriber_number: string }[]>`
      select order_id, subscriber_number from subscriber.subscribers where tenant_id = ${tenant} and order_id in (${a}, ${b}, ${c}) order by subscriber_number`;
    const num = (k: number) => `SUB-${String(before + k).padStart(6, "0")}`;
    expect(rows).toEqual([
      { order_id: a, subscriber_number: num(1) },
      { order_id: b, subscriber_number: num(2) },
      { order_id: c, subscriber_number: num(3) },
    ]);
    const [after] = await sql<{ last: number }[]>`select last_value as last from subscriber.subscriber_numbers where tenant_id = ${tenant}`;
    expect(after?.last).toBe(before + 3);
    const created = await sql<{ n: number }[]>`
      select count(*)::int as n from subscriber.outbox where type = 'SubscriberCreated' and data->>'order_id' in (${a}, ${b}, ${c})`;
    expect(created[0]?.n).toBe(3);

    // The same orders again (a redelivery, other offsets) change nothing.
    await reactor.run(orders.map((message, i) => ({ message, delivery: { topic: topics.crmOrders, partition: 0, offset: String(3_000_000 + i), headers: {} }, log: service.deps.logger })));
    const [again] = await sql<{ last: number }[]>`select last_value as last from subscriber.subscriber_numbers where tenant_id = ${tenant}`;
    expect(again?.last).toBe(before + 3);
  });
});

describe("provisioning outcome", () => {
  it("emits SubscriberProvisioned + OrderCompleted once billing is created, ignoring another tenant's events about the same id", async () => {
    const sub = await created(fresh("order-ok"));
    // Same subscriber id, another tenant: must change nothing of ours.
    await emit(sub.id, lifecycleEvent("IpAllocationFailed", { ...sub, tenant: otherTenant }, { code: "pool_exhausted", reason: "foreign" }));
    const billing = lifecycleEvent("BillingServiceCreated", sub, { service_id: "svc-1", service_plan_id: "res-100", status: "active" });
    await emit(
      sub.id,
      lifecycleEvent("NetworkProfileCreated", sub, { profile: { network_profile_id: "np-1", config: network, metadata: {} } }),
      lifecycleEvent("IpAllocated", sub, { ips }),
      lifecycleEvent("RadiusAccountCreated", sub, { username: "u1", plan_group: "res-100" }),
      lifecycleEvent("OnuActivated", sub, { onu_id: "onu-1", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "1/1/1", s_vlan: 100, c_vlan: null, bandwidth_mbps: 100 }),
      billing,
    );
    const done = await lifecycle.waitForType(sub.id, "SubscriberProvisioned");
    const completed = await status.waitForType(sub.orderId, "OrderCompleted");
    expect(done.data).toEqual({ order_id: sub.orderId });
    expect(done.meta.causation_id).toBe(billing.meta.event_id);
    expect(completed.data).toEqual({ order_id: sub.orderId, order_type: "provision", subscriber_id: sub.id });
    expect(saidAbout(lifecycle, sub.id)).toEqual(["SubscriberCreated", "SubscriberProvisioned"]);
    await expect.poll(async () => (await rowsOf(tenant, sub.orderId))[0]?.status, { timeout: 10_000 }).toBe("active");
  });

  it("emits SubscriberProvisioningFailed + OrderFailed on IpAllocationFailed, and SubscriberProvisioningRolledBack once the profile is deleted", async () => {
    const sub = await created(fresh("order-fail"));
    await emit(
      sub.id,
      lifecycleEvent("NetworkProfileCreated", sub, { profile: { network_profile_id: "np-2", config: network, metadata: {} } }),
      lifecycleEvent("IpAllocationFailed", sub, { code: "pool_exhausted", reason: "no free IPv4 address" }),
    );
    const failed = await lifecycle.waitForType(sub.id, "SubscriberProvisioningFailed");
    const orderFailed = await status.waitForType(sub.orderId, "OrderFailed");
    expect(failed.data).toEqual({ order_id: sub.orderId, step: "ipam", reason: "no free IPv4 address", code: "pool_exhausted" });
    expect(orderFailed.data).toEqual({ order_id: sub.orderId, order_type: "provision", subscriber_id: sub.id, step: "ipam", reason: "no free IPv4 address", code: "pool_exhausted" });

    // A second failure changes nothing; the compensation completes the rollback.
    await emit(
      sub.id,
      lifecycleEvent("RadiusAccountCreationFailed", sub, { code: "late", reason: "second failure" }),
      lifecycleEvent("NetworkProfileDeleted", sub, { network_profile_id: "np-2", soft_deleted: true, reason: "rollback" }),
    );
    const back = await lifecycle.waitForType(sub.id, "SubscriberProvisioningRolledBack");
    expect(back.data).toEqual({ order_id: sub.orderId, compensated: ["profile"] });
    // In partition order: failed, then the profile's compensation, and only then rolled back.
    const story = typesAbout(lifecycle, sub.id);
    const at = (t: EventName) => story.indexOf(t);
    expect(at("SubscriberProvisioningFailed")).toBeLessThan(at("NetworkProfileDeleted"));
    expect(at("NetworkProfileDeleted")).toBeLessThan(at("SubscriberProvisioningRolledBack"));
    expect(back.meta.causation_id).toBe(lifecycle.about(sub.id).find((m) => m.type === "NetworkProfileDeleted")?.meta.event_id);
    await expect.poll(async () => (await rowsOf(tenant, sub.orderId))[0]?.status, { timeout: 10_000 }).toBe("rolled_back");
    expect(story.filter((t) => t === "SubscriberProvisioningFailed")).toHaveLength(1);
    expect(story.filter((t) => t === "SubscriberProvisioningRolledBack")).toHaveLength(1);
    expect(typesAbout(status, sub.orderId)).toEqual(["OrderAccepted", "OrderFailed"]);
  });

  it("fails a subscriber with no progress before the deadline at the step it waits for, caused by the last event seen", async () => {
    const sub = await created(fresh("order-stall"), {}, deadlineTenant);
    const profile = lifecycleEvent("NetworkProfileCreated", sub, { profile: { network_profile_id: "np-3", config: network, metadata: {} } });
    await emit(sub.id, profile);
    const failed = await lifecycle.waitForType(sub.id, "SubscriberProvisioningFailed", 30_000);
    expect(failed.data).toEqual({ order_id: sub.orderId, step: "ipam", reason: `no progress within ${deadlineMs / 1000} s`, code: "deadline_exceeded" });
    expect(failed.meta.causation_id).toBe(profile.meta.event_id);
    expect(failed.meta.occurred_at - profile.meta.occurred_at).toBeGreaterThanOrEqual(deadlineMs);
    const orderFailed = await status.waitForType(sub.orderId, "OrderFailed");
    expect(orderFailed.data).toMatchObject({ step: "ipam", subscriber_id: sub.id });

    await emit(sub.id, lifecycleEvent("NetworkProfileDeleted", sub, { network_profile_id: "np-3", soft_deleted: true, reason: "rollback" }));
    await lifecycle.waitForType(sub.id, "SubscriberProvisioningRolledBack");
    expect(typesAbout(lifecycle, sub.id).filter((t) => t === "SubscriberProvisioningFailed")).toHaveLength(1);
  });

  it("fails a suspension that billing never answers at the deadline (OrderFailed at billing, deadline_exceeded), and then takes orders again", async () => {
    const sub = await created(fresh("order-suspend-stall"), {}, deadlineTenant);
    await emit(
      sub.id,
      lifecycleEvent("NetworkProfileCreated", sub, { profile: { network_profile_id: "np-4", config: network, metadata: {} } }),
      lifecycleEvent("IpAllocated", sub, { ips }),
      lifecycleEvent("RadiusAccountCreated", sub, { username: "u4", plan_group: "res-100" }),
      lifecycleEvent("OnuActivated", sub, { onu_id: "onu-4", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "1/1/1", s_vlan: 100, c_vlan: null, bandwidth_mbps: 100 }),
      lifecycleEvent("BillingServiceCreated", sub, { service_id: "svc-4", service_plan_id: "res-100", status: "active" }),
    );
    await lifecycle.waitForType(sub.id, "SubscriberProvisioned");
    const suspend = (orderId: string): Message<"SuspendOrderPlaced"> => ({
      type: "SuspendOrderPlaced",
      meta: { event_id: fresh("evt"), occurred_at: Date.now(), tenant_id: deadlineTenant, subscriber_id: sub.id, correlation_id: orderId, causation_id: null, producer: "crm" },
      data: { order_id: orderId, subscriber_id: sub.id, reason: "billing day" },
    });
    const first = fresh("suspend-stall");
    await publish(topics.crmOrders, sub.id, suspend(first));
    await status.waitForType(first, "OrderAccepted");
    await emit(sub.id, lifecycleEvent("RadiusAccountSuspended", { ...sub, orderId: first }, { username: "u4", mode: "reject" })); // billing stays silent
    const failed = await status.waitForType(first, "OrderFailed", 30_000);
    expect(failed.data).toEqual({ order_id: first, order_type: "suspend", subscriber_id: sub.id, step: "billing", reason: `no answer from billing within ${deadlineMs / 1000} s`, code: "deadline_exceeded" });
    const again = fresh("suspend-again");
    await publish(topics.crmOrders, sub.id, suspend(again));
    expect((await status.waitFor(again, (ms) => ms.some((m) => m.type === "OrderAccepted" || m.type === "OrderRejected"))).map((m) => m.type)).toEqual(["OrderAccepted"]);
  });

  it("leaves tenants outside the sweep's scope alone", async () => {
    const [row] = await db.select().from(subscribers).where(and(eq(subscribers.tenantId, tenant), eq(subscribers.status, "provisioning"))).limit(1);
    expect(row).toBeDefined(); // the accepted orders above are still provisioning, past the short deadline
    expect(Date.now() - (row?.lastProgressAt.getTime() ?? 0)).toBeGreaterThan(deadlineMs);
  });
});

describe("plan catalogue CLI", () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [...nodeArgs("services/subscriber/cli.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: testEnv.DATABASE_URL },
      encoding: "utf8",
    });

  it("adds a plan to a tenant and lists it; another tenant does not see it; a bad bandwidth is refused", () => {
    const cliTenant = `t-${run}-cli`;
    const added = cli("plan", "add", "--tenant", cliTenant, "--plan", "fiber-1g", "--name", "Fiber 1G", "--bandwidth", "1000");
    expect(added.status, added.stderr).toBe(0);
    const listed = cli("plan", "list", "--tenant", cliTenant, "--json");
    expect(JSON.parse(listed.stdout)).toEqual([{ plan_id: "fiber-1g", name: "Fiber 1G", bandwidth_mbps: 1000 }]);
    expect(JSON.parse(cli("plan", "list", "--tenant", `${cliTenant}-x`, "--json").stdout)).toEqual([]);
    const refused = cli("plan", "add", "--tenant", cliTenant, "--plan", "p", "--name", "n", "--bandwidth", "fast");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("positive whole number");
  });
});
