// Micro-benchmark of the allocator (prints numbers; not a test): allocations per second and the
// time of one allocation from a /16 that is 1 % full, 90 % full, and 90 % full after churn (the
// cursor at the end, units from the free list). The rates should be about the same: allocation
// cost does not grow with the number of units already handed out.
// Run: npx tsx services/ipam/bench.ts   (uses DATABASE_URL; cleans its tenant up afterwards)
import { randomBytes } from "node:crypto";
import { connect, migrateSchema } from "../../shared/db.js";
import { ipamMigrations } from "./service.js";
import { allocateDynamic } from "./store/allocator.js";
import { addPool, poolInfo } from "./store/pools.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/fiber";
const N = Number(process.env.BENCH_N ?? 2000);

await migrateSchema(url, "ipam", ipamMigrations);
const { sql, db } = connect(url, { max: 1, application: "ipam-bench" });
const tenant = `bench-${randomBytes(4).toString("hex")}`;
try {
  const pool = poolInfo(await addPool(db, { tenantId: tenant, name: "v4", kind: "ipv4", cidr: "10.0.0.0/16", gateway: "10.0.0.1", reserve: ["10.0.0.2-10.0.0.255"], isDefault: true }));
  let seq = 0;
  const measure = async (label: string) => {
    const start = performance.now();
    for (let i = 0; i < N; i++) {
      const got = await db.transaction((tx) => allocateDynamic(tx, tenant, `s-${seq++}`, pool));
      if (!got) throw new Error("pool exhausted during the benchmark");
    }
    const secs = (performance.now() - start) / 1000;
    console.log(`${label.padEnd(44)} ${Math.round(N / secs).toString().padStart(6)} allocations/s, ${((secs * 1e6) / N).toFixed(0).padStart(5)} µs each  (${N} in ${secs.toFixed(2)} s, one transaction each)`);
  };

  // Fill the pool to `upTo` units handed out, in one statement: the state the allocator would
  // have built itself (the cursor past them, one allocation row each).
  const fillTo = async (upTo: number) => {
    const [{ next } = { next: "0" }] = await sql<{ next: string }[]>`select next_index::text as next from ipam.pools where id = ${pool.id}`;
    const from = Number(next);
    if (upTo <= from) return;
    await sql`
      insert into ipam.allocations (tenant_id, subscriber_id, family, address, pool_id, idx, source)
      select ${tenant}, 'fill-' || i, 'ipv4', host('10.0.0.0'::inet + i), ${pool.id}, i, 'dynamic'
        from generate_series(${from}::bigint, ${upTo - 1}::bigint) as i
      on conflict do nothing`;
    await sql`update ipam.pools set next_index = ${upTo} where id = ${pool.id}`;
  };
  const size = 65_536;
  await fillTo(Math.round(size * 0.01));
  await measure("/16 pool 1 % full (cursor)");
  await fillTo(Math.round(size * 0.9) - N);
  await measure("/16 pool 90 % full (cursor)");
  // Full, then 10 % released at scattered places: the pool of an ISP after years of churn.
  await fillTo(size);
  const released = Math.round(size * 0.1);
  await sql`
    with gone as (
      delete from ipam.allocations where tenant_id = ${tenant} and pool_id = ${pool.id} and idx % 10 = 3 and subscriber_id like 'fill-%'
      returning idx)
    insert into ipam.released (tenant_id, pool_id, idx) select ${tenant}, ${pool.id}, idx from gone limit ${released}`;
  await measure("/16 pool 90 % full after churn (free list)");
} finally {
  await sql`delete from ipam.allocations where tenant_id = ${tenant}`;
  await sql`delete from ipam.pools where tenant_id = ${tenant}`;
  await sql.end({ timeout: 5 });
}
