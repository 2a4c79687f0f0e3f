// No address is handed out twice, even with two allocators at once: two ipam processes sharing
// the consumer group (each owning some partitions of the lifecycle topic) allocate for 200
// subscribers of one tenant from one pool; and, to put the allocator itself under contention,
// two PostgreSQL pools each allocate 100 units in parallel straight through the store.
import { afterAll, describe, expect, it } from "vitest";
import { connect, migrateSchema } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { allocateDynamic, releaseAll } from "../../services/ipam/store/allocator.js";
import { addPool, poolInfo } from "../../services/ipam/store/pools.js";
import { ipamMigrations } from "../../services/ipam/service.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka, waitUntil } from "../support/kafka.js";
import { startProcess, within, type Proc } from "../support/process.js";
import { watch, type Watch } from "../support/watch.js";
import { network, profileSkipped, publish } from "./ipam.fixture.js";

const run = runId();
const a = connect(testEnv.DATABASE_URL, { max: 8 });
const b = connect(testEnv.DATABASE_URL, { max: 8 });
const procs: Proc[] = [];
let lifecycle: Watch | undefined;

afterAll(async () => {
  for (const p of procs) p.child.kill("SIGTERM");
  await Promise.all(procs.map((p) => within(p.exited, 30_000, () => "ipam process to stop").catch(() => p.child.kill("SIGKILL"))));
  await lifecycle?.stop();
  await a.sql.end();
  await b.sql.end();
});

describe("no unit is handed out twice", () => {
  it("two connection pools allocating 100 units each in parallel from one pool get 200 distinct addresses; released ones come back", async () => {
    await migrateSchema(testEnv.DATABASE_URL, "ipam", ipamMigrations);
    const tenant = `t-${run}-store`;
    const row = await addPool(a.db, { tenantId: tenant, name: "v4", kind: "ipv4", cidr: "100.64.0.0/24", gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.9"], isDefault: true });
    const pool = poolInfo(row);
    const allocate = (c: typeof a, i: number) => c.db.transaction((tx) => allocateDynamic(tx, tenant, `sub-${c === a ? "a" : "b"}-${i}`, pool));
    const got = await Promise.all([...Array.from({ length: 100 }, (_, i) => allocate(a, i)), ...Array.from({ length: 100 }, (_, i) => allocate(b, i))]);

    const addresses = got.map((g) => g?.address);
    expect(addresses.every((x) => typeof x === "string")).toBe(true);
    expect(new Set(addresses).size).toBe(200);
    expect(addresses).not.toContain("100.64.0.1");
    expect(addresses.filter((x) => /^100\.64\.0\.[2-9]$/.test(x ?? ""))).toEqual([]);

    // release ten, then both sides race for them: the ten come back, each once
    const freed = await a.db.transaction(async (tx) => {
      const out = [];
      for (let i = 0; i < 10; i++) out.push(...(await releaseAll(tx, tenant, `sub-a-${i}`)));
      return out;
    });
    expect(freed).toHaveLength(10);
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => allocate(i % 2 ? a : b, 1000 + i)));
    expect(new Set(again.map((g) => g?.address))).toEqual(new Set(freed.map((f) => f.address)));
  });

  it("two ipam processes allocating 200 addresses concurrently hand out no duplicate", async () => {
    const tenant = `t-${run}-procs`;
    await migrateSchema(testEnv.DATABASE_URL, "ipam", ipamMigrations);
    await addPool(a.db, { tenantId: tenant, name: "v4", kind: "ipv4", cidr: "100.64.0.0/24", gateway: "100.64.0.1", isDefault: true });
    await addPool(a.db, { tenantId: tenant, name: "pd", kind: "ipv6_pd", cidr: "2001:db8:100::/48", delegatedLength: 56, isDefault: true });
    const env = { ...testEnv, LOG_LEVEL: "info", HTTP_PORT: "0" };
    procs.push(startProcess("services/ipam/main.ts", env), startProcess("services/ipam/main.ts", env));

    // both processes are members of the ipam group before the load arrives
    const admin = testKafka.admin();
    await admin.connect();
    try {
      await waitUntil(
        async () => {
          const [group] = (await admin.describeGroups(["ipam"])).groups;
          const mine = group?.members.filter((m) => m.clientId === "ipam").length ?? 0;
          return group?.state === "Stable" && mine >= 2 && procs.every((p) => p.output().includes("service started"));
        },
        90_000,
        () => `both ipam processes in the group; output:\n${procs.map((p) => p.output().slice(-500)).join("\n---\n")}`,
      );
    } finally {
      await admin.disconnect();
    }

    lifecycle = await watch(topics.lifecycle);
    const subscribers = Array.from({ length: 200 }, (_, i) => `sub-${run}-p${i}`);
    const producer = testKafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < subscribers.length; i += 50) {
        await publish(producer, ...subscribers.slice(i, i + 50).map((s) => profileSkipped(tenant, s, network({ ipv6_assignment_mode: "pd" }))));
      }
    } finally {
      await producer.disconnect();
    }

    const outcomes = () => lifecycle!.seen.filter((s) => s.message.meta.tenant_id === tenant && (s.message.type === "IpAllocated" || s.message.type === "IpAllocationFailed"));
    await waitUntil(() => outcomes().length >= 200, 120_000, () => `${outcomes().length} of 200 outcomes`);
    const results = outcomes().map((s) => s.message);
    expect(results.filter((m) => m.type !== "IpAllocated")).toEqual([]);
    const ips = results.map((m) => (m as { data: { ips: { ipv4: string; ipv6_prefix: string } } }).data.ips);
    expect(new Set(results.map((m) => m.meta.subscriber_id)).size).toBe(200);
    expect(new Set(ips.map((i) => i.ipv4)).size).toBe(200);
    expect(new Set(ips.map((i) => i.ipv6_prefix)).size).toBe(200);

    // and both processes did part of the work
    const handledBy = procs.map((p) => p.output().split("\n").filter((l) => l.includes(tenant) && l.includes('"Allocated dual-stack IPs"')).length);
    expect(handledBy.every((n) => n > 0)).toBe(true);
    expect(handledBy.reduce((x, y) => x + y, 0)).toBe(200);
  });
});
