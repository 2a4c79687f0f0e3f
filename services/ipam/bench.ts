// Micro-benchmark of the allocator (prints numbers; not a test): allocations per second from an
// empty /16, then with 20 000 units already allocated, and from the free list. The rates should
// be about the same: allocation cost does not grow with the number of units already handed out.
// Run: npx tsx services/ipam/bench.ts   (uses DATABASE_URL; cleans its tenant up afterwards)
import { randomBytes } from "node:crypto";
import { connect, migrateSchema } from "../../shared/db.js";
import { ipamMigrations } from "./service.js";
import { allocateDynamic, releaseAll } from "./store/allocator.js";
import { addPool, poolInfo } from "./store/pools.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/fiber";
const N = Number(process.env.BENCH_N ?? 2000);
const PREFILL = 20_000;

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
    console.log(`${label.padEnd(44)} ${Math.round(N / secs).toString().padStart(6)} allocations/s  (${N} in ${secs.toFixed(2)} s)`);
  };

  await measure("empty pool (cursor)");
  // Fill to 20 000 allocated in one statement: the state the allocator would have built itself.
  const [{ next } = { next: "0" }] = await sql<{ next: string }[]>`select next_index::text as next from ipam.pools where id = ${pool.id}`;
  const from = Number(next);
  const fill = PREFILL - N;
  await sql`
    insert into ipam.allocations (tenant_id, subscriber_id, family, address, pool_id, idx, source)
    select ${tenant}, 'fill-' || i, 'ipv4', host('10.0.0.0'::inet + i), ${pool.id}, i, 'dynamic'
      from generate_series(${from}::bigint, ${from + fill - 1}::bigint) as i`;
  await sql`update ipam.pools set next_index = ${from + fill} where id = ${pool.id}`;
  await measure(`${PREFILL} already allocated (cursor)`);
  // Free N scattered units, then allocate them again from the free list.
  for (let i = 0; i < N; i++) await db.transaction((tx) => releaseAll(tx, tenant, `fill-${from + i * 7}`));
  await measure(`${PREFILL} allocated, ${N} released (free list)`);
} finally {
  await sql`delete from ipam.allocations where tenant_id = ${tenant}`;
  await sql`delete from ipam.pools where tenant_id = ${tenant}`;
  await sql.end({ timeout: 5 });
}
