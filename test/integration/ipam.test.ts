// The ipam service on the real stack: Kafka, the registry and PostgreSQL. Each test uses its
// own tenant (fresh per run) with its own pools, and waits for the events ipam publishes.
import { and, eq, sql as dsql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import type { Incoming } from "../../shared/consumer.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { definition } from "../../services/ipam/service.js";
import { addPool, type PoolInput } from "../../services/ipam/store/pools.js";
import { outbox, pools } from "../../services/ipam/store/schema.js";
import { committedPast } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka } from "../support/kafka.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { watch, type Watch } from "../support/watch.js";
import { event, network, profileCreated, profileSkipped, publish } from "./ipam.fixture.js";

const run = runId();
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
let service: RunningService;
let lifecycle: Watch;
let dlq: Watch;

const sub = (name: string) => `sub-${run}-${name}`;
async function tenantWith(name: string, ...defs: Omit<PoolInput, "tenantId">[]): Promise<string> {
  const tenantId = `t-${run}-${name}`;
  for (const d of defs) await addPool(db, { ...d, tenantId });
  return tenantId;
}
const v4 = (cidr: string, over: Partial<PoolInput> = {}): Omit<PoolInput, "tenantId"> => ({ name: "v4", kind: "ipv4", cidr, isDefault: true, ...over });
const outcome = (subscriberId: string) =>
  lifecycle.waitFor(subscriberId, (ms) => ms.some((m) => m.type === "IpAllocated" || m.type === "IpAllocationFailed")).then(
    (ms) => ms.find((m) => m.type === "IpAllocated" || m.type === "IpAllocationFailed") as Message<"IpAllocated" | "IpAllocationFailed">,
  );

beforeAll(async () => {
  await producer.connect();
  lifecycle = await watch(topics.lifecycle);
  dlq = await watch(dlqTopic("ipam"));
  service = await runService(definition(), { ...testEnv });
});

afterAll(async () => {
  await service?.stop();
  await lifecycle?.stop();
  await dlq?.stop();
  await producer.disconnect();
  await sql.end();
});

describe("allocation", () => {
  it("with no static IPs, dual_stack gets IPv4, IPv6 and a /56 from the tenant's default pools, past gateway and reserved range", async () => {
    const tenant = await tenantWith(
      "dyn",
      v4("100.64.0.0/24", { gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.9"] }),
      { name: "v6", kind: "ipv6", cidr: "2001:db8:ffff::/64", gateway: "2001:db8:ffff::1", isDefault: true },
      { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:100::/40", delegatedLength: 56, isDefault: true },
    );
    const trigger = profileSkipped(tenant, sub("dyn"), network({ ipv6_assignment_mode: "dual_stack" }));
    await publish(producer, trigger);

    const got = await outcome(sub("dyn"));
    expect(got.type).toBe("IpAllocated");
    expect(got.data).toEqual({ ips: { ipv4: "100.64.0.10", ipv6: "2001:db8:ffff::2", ipv6_prefix: "2001:db8:100::/56", source: "dynamic" } });
    expect(got.meta).toMatchObject({ tenant_id: tenant, causation_id: trigger.meta.event_id, correlation_id: trigger.meta.correlation_id, producer: "ipam" });
  });

  it("static IPs of the profile are used as they are (source network_profile) and no pool cursor moves", async () => {
    const tenant = await tenantWith("static", v4("100.64.0.8/29"), { name: "v6-static", kind: "ipv6", cidr: "2001:db8::/64", usage: "static" });
    await publish(producer, profileCreated(tenant, sub("static"), network({ static_ipv4: "100.64.0.9", static_ipv6: "2001:db8::1", ipv6_assignment_mode: "slaac" })));

    const got = await outcome(sub("static"));
    expect(got.data).toEqual({ ips: { ipv4: "100.64.0.9", ipv6: "2001:db8::1", ipv6_prefix: null, source: "network_profile" } });
    const [pool] = await db.select().from(pools).where(and(eq(pools.tenantId, tenant), eq(pools.kind, "ipv4")));
    expect(pool?.nextIndex).toBe(1n);

    // and a dynamic allocation in that pool steps over the static one
    await publish(producer, profileSkipped(tenant, sub("static-next"), network()));
    expect((await outcome(sub("static-next"))).data).toMatchObject({ ips: { ipv4: "100.64.0.10", source: "dynamic" } });
  });

  it("static IPs of the order (NetworkProfileSkipped) are used with source order_static", async () => {
    const tenant = await tenantWith(
      "order",
      v4("100.64.0.0/24"),
      v4("10.0.1.0/24", { name: "customers-v4", isDefault: false, usage: "static" }),
      { name: "customers-pd", kind: "ipv6_pd", cidr: "2001:db8:1::/48", delegatedLength: 56, usage: "static" },
    );
    await publish(producer, profileSkipped(tenant, sub("order"), network({ static_ipv4: "10.0.1.100", delegated_ipv6_prefix: "2001:db8:1::/56", ipv6_assignment_mode: "pd" })));
    expect((await outcome(sub("order"))).data).toEqual({ ips: { ipv4: "10.0.1.100", ipv6: null, ipv6_prefix: "2001:db8:1::/56", source: "order_static" } });
  });

  it("a static IP bound to another subscriber fails with static_ip_in_use naming that subscriber", async () => {
    const tenant = await tenantWith("taken", v4("100.64.0.0/24"), v4("10.0.0.0/24", { name: "customers-v4", isDefault: false, usage: "static" }));
    await publish(producer, profileCreated(tenant, sub("owner"), network({ static_ipv4: "10.0.0.5" })));
    expect((await outcome(sub("owner"))).type).toBe("IpAllocated");

    await publish(producer, profileCreated(tenant, sub("intruder"), network({ static_ipv4: "10.0.0.5" })));
    const got = await outcome(sub("intruder"));
    expect(got).toMatchObject({ type: "IpAllocationFailed", data: { code: "static_ip_in_use", reason: `static ipv4 10.0.0.5 is bound to subscriber ${sub("owner")}` } });
  });

  it("a static must be one unit of a pool open to statics, outside its reserved ranges: else the allocation fails with its code", async () => {
    const tenant = await tenantWith(
      "placement",
      v4("100.64.0.0/24", { gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.9"] }),
      v4("100.70.0.0/24", { name: "cgnat", isDefault: false, usage: "dynamic" }),
      { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:4000::/40", delegatedLength: 56, isDefault: true },
    );
    const pd = (prefix: string) => network({ delegated_ipv6_prefix: prefix, ipv6_assignment_mode: "pd" });
    const cases = [
      { name: "in-pool", net: network({ static_ipv4: "100.64.0.200" }), expected: { type: "IpAllocated" } },
      { name: "outside", net: network({ static_ipv4: "8.8.8.8" }), expected: { type: "IpAllocationFailed", data: { code: "static_ip_outside_pools", reason: expect.stringContaining("static IPv4 8.8.8.8 lies in none of the tenant's IPv4 pools") } } },
      { name: "pd-outside", net: pd("2001:db8:9900::/56"), expected: { type: "IpAllocationFailed", data: { code: "static_ip_outside_pools" } } },
      { name: "reserved", net: network({ static_ipv4: "100.64.0.5" }), expected: { type: "IpAllocationFailed", data: { code: "static_ip_reserved", reason: "static IPv4 100.64.0.5 is in the reserved range 100.64.0.2-100.64.0.9 of pool 'v4'" } } },
      { name: "dynamic-only", net: network({ static_ipv4: "100.70.0.5" }), expected: { type: "IpAllocationFailed", data: { code: "static_ip_in_dynamic_pool" } } },
      // Inside the PD pool: a /60 is not one of its /56 units (the allocator could hand out the /56 around it).
      { name: "pd-in-pool", net: pd("2001:db8:4000:10::/60"), expected: { type: "IpAllocationFailed", data: { code: "invalid_static_ip", reason: expect.stringContaining("without being one of its /56 units") } } },
      { name: "network", net: network({ static_ipv4: "100.64.0.0" }), expected: { type: "IpAllocationFailed", data: { code: "invalid_static_ip", reason: expect.stringContaining("network address of pool 'v4'") } } },
    ];
    await publish(producer, ...cases.map((c) => profileCreated(tenant, sub(c.name), c.net)));
    for (const c of cases) expect(await outcome(sub(c.name)), c.name).toMatchObject(c.expected);
    const held = await sql`select subscriber_id, address, pool_id is not null as in_pool from ipam.allocations where tenant_id = ${tenant}`;
    expect(held.map((r) => [r.subscriber_id, r.address, r.in_pool])).toEqual([[sub("in-pool"), "100.64.0.200", true]]); // nothing of the others
  });

  it("an exhausted pool fails with pool_exhausted and leaves no half allocation behind", async () => {
    // a /30 holds two usable addresses
    const tenant = await tenantWith("full", v4("100.64.0.0/30"), { name: "v6", kind: "ipv6", cidr: "2001:db8:fe::/64", isDefault: true });
    await publish(producer, profileSkipped(tenant, sub("full-1"), network()), profileSkipped(tenant, sub("full-2"), network()));
    expect((await outcome(sub("full-1"))).type).toBe("IpAllocated");
    expect((await outcome(sub("full-2"))).type).toBe("IpAllocated");

    await publish(producer, profileSkipped(tenant, sub("full-3"), network({ ipv6_assignment_mode: "slaac" })));
    const got = await outcome(sub("full-3"));
    expect(got).toMatchObject({ type: "IpAllocationFailed", data: { code: "pool_exhausted" } });
    expect((got.data as { reason: string }).reason).toContain("'v4'");
    const held = await sql`select count(*)::int as n from ipam.allocations where tenant_id = ${tenant} and subscriber_id = ${sub("full-3")}`;
    expect(held[0]?.n).toBe(0);
  });

  it("a released address is handed out again after a failed provisioning rolls ipam back", async () => {
    const tenant = await tenantWith("reuse", v4("100.64.0.0/24", { gateway: "100.64.0.1" }));
    await publish(producer, profileSkipped(tenant, sub("first"), network()));
    const first = (await outcome(sub("first"))) as Message<"IpAllocated">;
    expect(first.data.ips.ipv4).toBe("100.64.0.2");
    // a second subscriber moves the cursor on, so reuse can only come from the free list
    await publish(producer, profileSkipped(tenant, sub("second"), network()));
    expect((await outcome(sub("second"))).data).toMatchObject({ ips: { ipv4: "100.64.0.3" } });

    await publish(producer, event(tenant, sub("first"), "SubscriberProvisioningFailed", { code: null, order_id: `order-${sub("first")}`, step: "radius", reason: "no RADIUS plan" }));
    const rel = await lifecycle.waitForType(sub("first"), "IpReleased");
    expect(rel.data).toEqual({ ips: { ipv4: "100.64.0.2", ipv6: null, ipv6_prefix: null, source: "dynamic" }, reason: "rollback" });

    await publish(producer, profileSkipped(tenant, sub("third"), network()));
    expect((await outcome(sub("third"))).data).toMatchObject({ ips: { ipv4: "100.64.0.2", source: "dynamic" } });
  });
});

describe("one unit of work", () => {
  // ipam's reactor driven directly with one unit of work of several subscribers (as one large
  // fetch gives it), so the one-statement bind (bindAtCursors) runs for every subscriber after
  // the first: its cursor runs into an address a static took in the same unit.
  const items = (ms: Message[]): Incoming[] =>
    ms.map((message, i) => ({ message, delivery: { topic: topics.lifecycle, partition: 0, offset: String(1_000_000 + i), headers: {} }, log: service.deps.logger }));

  it("binds the next units at the cursors in one statement, and steps past a unit bound as a static meanwhile", async () => {
    const tenant = await tenantWith(
      "unit",
      v4("100.64.1.0/28", { gateway: "100.64.1.1" }),
      { name: "v6", kind: "ipv6", cidr: "2001:db8:77::/64", gateway: "2001:db8:77::1", isDefault: true },
    );
    const slaac = network({ ipv6_assignment_mode: "slaac" });
    const reactor = definition().reactor(service.deps as Parameters<ReturnType<typeof definition>["reactor"]>[0]);
    await reactor.run(
      items([
        profileSkipped(tenant, sub("u1"), slaac), // one by one: finds the free lists empty
        profileSkipped(tenant, sub("u2"), slaac), // at the cursors: .3 and ::3
        profileCreated(tenant, sub("u3"), network({ static_ipv4: "100.64.1.4" })), // the v4 cursor's next unit, as a static
        profileSkipped(tenant, sub("u4"), slaac), // at the cursors: .4 is taken, so one by one: .5 and ::4
        profileSkipped(tenant, sub("u5"), slaac), // at the cursors again: .6 and ::5
      ]),
    );
    const rows = await sql<{ subscriber_id: string; family: string; address: string; source: string }[]>`
      select subscriber_id, family, address, source from ipam.allocations where tenant_id = ${tenant} order by subscriber_id, family`;
    const of = (name: string) => rows.filter((r) => r.subscriber_id === sub(name)).map((r) => `${r.family} ${r.address} ${r.source}`);
    expect(of("u1")).toEqual(["ipv4 100.64.1.2 dynamic", "ipv6 2001:db8:77::2 dynamic"]);
    expect(of("u2")).toEqual(["ipv4 100.64.1.3 dynamic", "ipv6 2001:db8:77::3 dynamic"]);
    expect(of("u3")).toEqual(["ipv4 100.64.1.4 network_profile"]);
    expect(of("u4")).toEqual(["ipv4 100.64.1.5 dynamic", "ipv6 2001:db8:77::4 dynamic"]);
    expect(of("u5")).toEqual(["ipv4 100.64.1.6 dynamic", "ipv6 2001:db8:77::5 dynamic"]);
    const [cursor] = await sql<{ next: string }[]>`select next_index::text as next from ipam.pools where tenant_id = ${tenant} and kind = 'ipv4'`;
    expect(cursor?.next).toBe("7");

    // The same unit again (a redelivery) binds nothing more.
    await reactor.run(items([profileSkipped(tenant, sub("u5"), slaac)]));
    const [after] = await sql<{ n: number }[]>`select count(*)::int as n from ipam.allocations where tenant_id = ${tenant}`;
    expect(after?.n).toBe(9);
  });
});

describe("tenant isolation", () => {
  it("a tenant without that pool fails with no_pool while another tenant's pools stay untouched; the same static IP may live in two tenants", async () => {
    const rich = await tenantWith("rich", v4("100.64.0.0/24"));
    const poor = await tenantWith("poor", v4("100.64.0.0/24", { name: "own", isDefault: false, usage: "static" }));
    await publish(producer, profileSkipped(poor, sub("poor"), network({ ipv4_pool: "v4" })));
    expect((await outcome(sub("poor"))).data).toEqual({ code: "no_pool", reason: "no IPv4 pool named 'v4' for this tenant" });
    const [pool] = await db.select().from(pools).where(eq(pools.tenantId, rich));
    expect(pool?.nextIndex).toBe(1n);

    await publish(producer, profileCreated(rich, sub("rich-static"), network({ static_ipv4: "100.64.0.77" })), profileCreated(poor, sub("poor-static"), network({ static_ipv4: "100.64.0.77" })));
    expect((await outcome(sub("rich-static"))).type).toBe("IpAllocated");
    expect((await outcome(sub("poor-static"))).type).toBe("IpAllocated");
  });
});

describe("delivery", () => {
  it("the same event delivered twice allocates once and emits one IpAllocated", async () => {
    const tenant = await tenantWith("dup", v4("100.64.0.0/24"));
    const trigger = profileSkipped(tenant, sub("dup"), network());
    await publish(producer, trigger, trigger);
    const marker = event(tenant, sub("dup"), "SubscriberProvisioned", { order_id: `order-${sub("dup")}` });
    await publish(producer, marker);

    await expect.poll(() => committedPast("ipam", marker), { timeout: 30_000 }).toBe(true);
    const emitted = await db.select().from(outbox).where(and(eq(outbox.type, "IpAllocated"), dsql`${outbox.meta}->>'causation_id' = ${trigger.meta.event_id}`));
    expect(emitted).toHaveLength(1);
    const held = await sql`select count(*)::int as n from ipam.allocations where tenant_id = ${tenant} and subscriber_id = ${sub("dup")}`;
    expect(held[0]?.n).toBe(1);
  });

  it("an unknown IPv6 assignment mode goes to the DLQ and the consumer goes on", async () => {
    const tenant = await tenantWith("poison", v4("100.64.0.0/24"));
    await publish(producer, profileSkipped(tenant, sub("poison"), network({ ipv6_assignment_mode: "bogus" })));
    await dlq.waitForType(sub("poison"), "NetworkProfileSkipped");
    await publish(producer, profileSkipped(tenant, sub("after-poison"), network()));
    expect((await outcome(sub("after-poison"))).type).toBe("IpAllocated");
  });

  it("serves the tenant's pools with used and free counts over HTTP", async () => {
    const tenant = await tenantWith("http", v4("100.64.0.0/24", { gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.9"] }));
    const res = await fetchAs(await tokenFor(tenant), `http://127.0.0.1:${service.health.port}/tenants/${tenant}/pools`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.64.0.0/24", gateway: "100.64.0.1", delegated_length: null, is_default: true, usage: "both", reserved: ["gateway 100.64.0.1", "100.64.0.2-100.64.0.9"], capacity: "245", used: 0, free: "245" }],
    });
  });
});
