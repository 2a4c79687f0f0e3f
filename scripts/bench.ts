// The throughput benchmark (prints numbers; never a test). Runs N subscribers through the whole
// local stack, once with the services as separate processes and once in all-in-one mode, and
// prints for each: subscribers/s for a burst, latency percentiles at an offered rate, CPU seconds
// and peak RSS per process; then a mass suspension and resumption of the burst's subscribers
// (CoA / Disconnect to a simulated NAS that answers). See docs/PERFORMANCE.md.
//   bash infra/stack.sh up && npm run bench -- [--n 1000] [--rate 50] [--rate-seconds 10] [--mode both]
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { Command } from "commander";
import type { Message } from "../schemas/generated/events.js";
import { loadConfig } from "../shared/config.js";
import { connect } from "../shared/db.js";
import { createKafka } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import { topics } from "../shared/topics.js";
import { addNas } from "../services/radius/store/store.js";
import { lifecycleOrder } from "./crm.js";
import { benchOrders, benchTenant } from "./bench/fixture.js";
import { CpuMeter, pidFromFile, pidsByComm } from "./bench/procs.js";
import { openOrderDesk, percentile, type OrderDesk } from "./bench/orders.js";
import { repoRoot, servicePorts, startServices, type ServiceName } from "./run-services.js";
import { startFakeNas } from "./simulated-nas.js";
import { setupTenants } from "./tenant-setup.js";

const program = new Command()
  .name("bench")
  .option("--n <n>", "subscribers in the burst", "1000")
  .option("--rate <r>", "offered rate for the latency run, orders/s", "50")
  .option("--rate-seconds <s>", "length of the latency run (0: none)", "10")
  .option("--warmup <n>", "orders before measuring", "20")
  .option("--mode <mode>", "processes | all-in-one | both", "both")
  .option("--no-suspend", "skip the mass suspension and resumption")
  .option("--no-direct", "skip the direct limit (and so the ratio)")
  .option("--no-ipam", "skip the IPAM allocation benchmark")
  .option("--pg-stats", "print PostgreSQL's top statements of each burst and rate run (needs pg_stat_statements loaded)")
  .parse();
const opts = program.opts<{ n: string; rate: string; rateSeconds: string; warmup: string; mode: string; suspend: boolean; direct: boolean; ipam: boolean; pgStats?: boolean }>();
const N = Number(opts.n);
const RATE = Number(opts.rate);
const RATE_N = Math.round(RATE * Number(opts.rateSeconds));
const WARMUP = Number(opts.warmup);
const modes = (opts.mode === "both" ? ["processes", "all-in-one"] : [opts.mode]) as Array<"processes" | "all-in-one">;
if (!modes.every((m) => m === "processes" || m === "all-in-one")) throw new Error(`--mode must be processes, all-in-one or both, not ${opts.mode}`);

const config = loadConfig({});
const tenant = `bench-${Date.now().toString(36)}`;
const perMode = WARMUP + N + RATE_N;
const total = perMode * modes.length;
// The stack's pid files; STACK_DIR as in infra/lib.sh.
const stackRun = `${process.env.STACK_DIR ?? `${repoRoot}/.stack`}/run/`;
const names = Object.keys(servicePorts) as ServiceName[];

const t0 = Date.now();
await setupTenants(config.DATABASE_URL, [benchTenant(tenant, total)]);

console.log(`tenant ${tenant}: ${total} ONUs, /16 + /64 + /36 pools set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const orders = (from: number, count: number) => benchOrders(tenant, from, count);

interface Meters {
  readonly rows: ReadonlyArray<readonly [string, CpuMeter]>;
  sample(): void;
}

function meters(servicePids: ReadonlyArray<readonly [string, number]>): Meters {
  const kafka = pidFromFile(`${stackRun}kafka.pid`);
  const registry = pidFromFile(`${stackRun}registry.pid`);
  const rows: Array<readonly [string, CpuMeter]> = [
    ...servicePids.map(([name, pid]) => [name, new CpuMeter(() => [pid])] as const),
    ["postgresql", new CpuMeter(() => pidsByComm("postgres"))],
    ["kafka", new CpuMeter(() => (kafka ? [kafka] : []))],
    ["registry", new CpuMeter(() => (registry ? [registry] : []))],
  ];
  return { rows, sample: () => rows.forEach(([, m]) => m.sample()) };
}

async function measure<T>(m: Meters, work: () => Promise<T>): Promise<T> {
  m.sample();
  const timer = setInterval(() => m.sample(), 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    m.sample();
  }
}

function latencies(desk: OrderDesk, ids: readonly string[]): number[] {
  return ids.map((id) => (desk.outcomes.get(id)?.at ?? NaN) - (desk.placed.get(id) ?? NaN)).sort((a, b) => a - b);
}

const fmt = (n: number, d = 1) => n.toFixed(d);

function printCpu(m: Meters, count: number): void {
  console.log(`  ${"process".padEnd(12)} ${"CPU s".padStart(8)} ${"CPU ms/sub".padStart(11)} ${"kernel %".padStart(9)} ${"peak RSS MB".padStart(12)}`);
  let cpuTotal = 0;
  for (const [name, meter] of m.rows) {
    const s = meter.seconds();
    cpuTotal += s;
    const kernel = s > 0 ? (100 * meter.systemSeconds()) / s : 0;
    console.log(`  ${name.padEnd(12)} ${fmt(s).padStart(8)} ${fmt((s * 1000) / count).padStart(11)} ${fmt(kernel, 0).padStart(9)} ${fmt(meter.peakRssMb(), 0).padStart(12)}`);
  }
  console.log(`  ${"total".padEnd(12)} ${fmt(cpuTotal).padStart(8)} ${fmt((cpuTotal * 1000) / count).padStart(11)}`);
}

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 120_000;
  const ready = async () =>
    (
      await Promise.all(
        Object.values(servicePorts).map(async (p) => {
          try {
            return (await fetch(`http://127.0.0.1:${p}/readyz`)).status === 200;
          } catch {
            return false;
          }
        }),
      )
    ).every(Boolean);
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error("services not ready after 120 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Gives every subscriber an open session on a NAS of the tenant, as FreeRADIUS records an Accounting-Start. */
async function openSessions(nasPort: number, nasSecret: string, subscriberIds: readonly string[]): Promise<void> {
  const { sql, db } = connect(config.DATABASE_URL, { application: "bench" });
  try {
    await addNas(db, { tenantId: tenant, nasId: "bench-bng", address: "127.0.0.1", coaPort: nasPort, secret: nasSecret });
    await sql`
      insert into radius.radacct (acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime, framedipaddress)
      select 'bench-' || a.subscriber_id, ${tenant} || '-' || a.subscriber_id, a.username, '127.0.0.1', now(), null
      from radius.accounts a where a.tenant_id = ${tenant} and a.subscriber_id = any(${subscriberIds as string[]}) and a.status = 'active'
      on conflict (acctuniqueid) do nothing`;
  } finally {
    await sql.end();
  }
}

/** pg_stat_statements of the burst alone: reset before it, the top statements by time after it. */
async function pgStats(what: "reset" | "print", count = 1): Promise<void> {
  const { sql } = connect(config.DATABASE_URL, { application: "bench" });
  try {
    if (what === "reset") {
      await sql`select pg_stat_statements_reset()`;
      return;
    }
    const rows = await sql<Array<{ calls: string; ms: number; rows: string; wal: string; q: string }>>`
      select calls, total_exec_time as ms, rows, wal_bytes as wal, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 90) as q
      from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
      order by total_exec_time desc limit 20`;
    const [sum] = await sql<Array<{ calls: string; ms: number; wal: string }>>`
      select sum(calls) as calls, sum(total_exec_time) as ms, sum(wal_bytes) as wal
      from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`;
    console.log(`  PostgreSQL statements: ${sum?.calls} calls, ${fmt((sum?.ms ?? 0) / count, 2)} ms and ${fmt(Number(sum?.wal ?? 0) / 1024 / count)} KB WAL per subscriber`);
    for (const r of rows) console.log(`  ${fmt(r.ms / count, 3).padStart(7)} ms/sub ${String(r.calls).padStart(7)} calls ${String(r.rows).padStart(7)} rows ${fmt(Number(r.wal) / 1024 / count).padStart(6)} KB WAL/sub  ${r.q}`);
  } catch (err) {
    console.log(`  (pg_stat_statements: ${(err as Error).message})`);
  } finally {
    await sql.end();
  }
}

interface ModeResult {
  readonly mode: string;
  readonly throughput: number;
  readonly p99: number;
  readonly maxRss: number;
  readonly suspendPerSec: number | null;
}

async function runMode(mode: "processes" | "all-in-one", offset: number): Promise<ModeResult> {
  console.log(`\n=== services ${mode === "processes" ? "as separate processes" : "all in one process"} (compiled JavaScript)`);
  const running = startServices(names, { LOG_LEVEL: "warn" }, process.env.BENCH_SERVICE_LOGS !== "1", mode === "all-in-one");
  const desk = await openOrderDesk(config, `bench-${randomUUID()}`);
  try {
    await waitReady();
    const m = meters([...running.children].map(([name, c]) => [name, c.pid ?? 0] as const));

    const warm = orders(offset, WARMUP);
    await desk.placeAll(warm);
    await desk.waitFor(warm.map((o) => o.data.order_id), 120_000);

    const burst = orders(offset + WARMUP, N);
    const burstIds = burst.map((o) => o.data.order_id);
    if (opts.pgStats) await pgStats("reset");
    const started = Date.now();
    await measure(m, async () => {
      await desk.placeAll(burst);
      await desk.waitFor(burstIds, 120_000);
    });
    const lastOutcome = Math.max(...burstIds.map((id) => desk.outcomes.get(id)?.at ?? 0));
    const burstSecs = (lastOutcome - started) / 1000;
    const completed = burstIds.filter((id) => desk.outcomes.get(id)?.type === "OrderCompleted").length;
    const throughput = N / burstSecs;
    const burstLat = latencies(desk, burstIds);
    console.log(`burst: ${N} provisioning orders placed at once`);
    console.log(`  ${completed}/${N} completed in ${fmt(burstSecs)} s: ${fmt(throughput)} subscribers/s`);
    console.log(`  order -> outcome: p50 ${percentile(burstLat, 0.5)} ms, p95 ${percentile(burstLat, 0.95)} ms, p99 ${percentile(burstLat, 0.99)} ms`);
    printCpu(m, N);
    if (opts.pgStats) await pgStats("print", N);

    let p99 = NaN;
    if (RATE_N > 0) {
      const paced = orders(offset + WARMUP + N, RATE_N);
      const ids = paced.map((o) => o.data.order_id);
      const mr = meters([...running.children].map(([name, c]) => [name, c.pid ?? 0] as const));
      if (opts.pgStats) await pgStats("reset");
      await measure(mr, async () => {
        await desk.placeAtRate(paced, RATE);
        await desk.waitFor(ids, 120_000);
      });
      const lat = latencies(desk, ids);
      p99 = percentile(lat, 0.99);
      console.log(`latency: ${RATE_N} orders offered at ${RATE}/s`);
      console.log(`  order -> outcome: p50 ${percentile(lat, 0.5)} ms, p95 ${percentile(lat, 0.95)} ms, p99 ${p99} ms`);
      printCpu(mr, RATE_N);
      if (opts.pgStats) await pgStats("print", RATE_N);
    }

    let suspendPerSec: number | null = null;
    if (opts.suspend) {
      const subs = burstIds.flatMap((id) => {
        const o = desk.outcomes.get(id);
        return o?.type === "OrderCompleted" && o.subscriberId ? [o.subscriberId] : [];
      });
      const secret = randomBytes(12).toString("hex");
      const nas = await startFakeNas(secret);
      try {
        await openSessions(nas.port, secret, subs);
        for (const [kind, type] of [
          ["suspension", "SuspendOrderPlaced"],
          ["resumption", "ResumeOrderPlaced"],
        ] as const) {
          const lifecycle = subs.map((s) =>
            type === "SuspendOrderPlaced"
              ? lifecycleOrder(tenant, type, { order_id: `${kind}-${s}`, subscriber_id: s, reason: "billing day" })
              : lifecycleOrder(tenant, type, { order_id: `${kind}-${s}`, subscriber_id: s }),
          ) as Message[];
          const ids = subs.map((s) => `${kind}-${s}`);
          const mm = meters([...running.children].map(([name, c]) => [name, c.pid ?? 0] as const));
          const before = nas.received.length;
          const t = Date.now();
          await measure(mm, async () => {
            await desk.placeAll(lifecycle);
            await desk.waitFor(ids, 120_000);
          });
          const secs = (Math.max(...ids.map((id) => desk.outcomes.get(id)?.at ?? 0)) - t) / 1000;
          const done = ids.filter((id) => desk.outcomes.get(id)?.type === "OrderCompleted").length;
          const rate = ids.length / secs;
          if (kind === "suspension") suspendPerSec = rate;
          console.log(`mass ${kind}: ${ids.length} orders placed at once`);
          console.log(`  ${done}/${ids.length} completed in ${fmt(secs)} s: ${fmt(rate)} subscribers/s; the NAS received ${nas.received.length - before} requests`);
          if (kind === "suspension") printCpu(mm, ids.length);
        }
      } finally {
        await nas.close();
      }
    }
    const serviceRss = m.rows.filter(([n]) => n !== "postgresql" && n !== "kafka" && n !== "registry").map(([, meter]) => meter.peakRssMb());
    return { mode, throughput, p99, maxRss: Math.max(...serviceRss), suspendPerSec };
  } finally {
    await desk.close();
    await projectionSettled();
    await running.stop();
  }
}

/**
 * Waits (at most 30 s) until the projection has committed every lifecycle event, so its
 * documents of the bench tenant are final when the services stop: the throughput is measured to
 * the last outcome, which the projection folds a moment later.
 */
async function projectionSettled(): Promise<void> {
  const admin = createKafka(config, "bench-settle", createLogger("bench", "error")).admin();
  await admin.connect();
  try {
    const t = Date.now();
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topics.lifecycle);
      const [committed] = await admin.fetchOffsets({ groupId: `projection${config.KAFKA_GROUP_SUFFIX}`, topics: [topics.lifecycle] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const lag = ends.reduce((n, e) => n + (BigInt(e.offset) - (at.get(e.partition) ?? 0n)), 0n);
      if (lag <= 0n) return;
      if (Date.now() - t > 30_000) {
        console.log(`  (the projection is still ${lag} lifecycle events behind; its documents may not be final)`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

const results: ModeResult[] = [];
for (const [i, mode] of modes.entries()) results.push(await runMode(mode, i * perMode));

let directPerSec = NaN;
if (opts.direct) {
  console.log("\n=== the direct limit: the same PostgreSQL work with no Kafka between the steps (scripts/bench/direct.ts)");
  const directOut = execFileSync(process.execPath, [`${repoRoot}/dist/scripts/bench/direct.js`, "--n", String(N)], { encoding: "utf8", env: process.env });
  process.stdout.write(directOut);
  directPerSec = Number(/: ([\d.]+) subscribers\/s/.exec(directOut)?.[1] ?? NaN);
}

if (opts.ipam) {
  console.log("\n=== IPAM allocation, one transaction per allocation (services/ipam/bench.ts)");
  execFileSync(process.execPath, [`${repoRoot}/dist/services/ipam/bench.js`], { stdio: "inherit", env: { ...process.env, BENCH_N: "1000" } });
}

console.log("\n=== summary");
for (const r of results) {
  console.log(
    `  ${r.mode.padEnd(11)} burst ${fmt(r.throughput)}/s, p99 ${r.p99} ms at ${RATE}/s, mass suspension ${r.suspendPerSec === null ? "-" : `${fmt(r.suspendPerSec)}/s`}, max RSS ${fmt(r.maxRss, 0)} MB`,
  );
}
const main = results[0];
if (main) {
  const ratio = main.throughput / directPerSec;
  console.log(`  direct      ${fmt(directPerSec)}/s; ratio through Kafka / direct ${fmt(ratio, 2)}`);
  console.log(`throughput ${fmt(main.throughput)}/s, p99 ${main.p99} ms at ${RATE}/s, ratio ${fmt(ratio, 2)}, max RSS ${fmt(Math.max(...results.map((r) => r.maxRss)), 0)} MB`);
}
