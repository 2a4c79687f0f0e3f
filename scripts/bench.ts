// The throughput benchmark (prints numbers; never a test). Runs N subscribers through the whole
// local stack and prints subscribers/s for a burst, latency percentiles at an offered rate, CPU
// seconds and peak RSS per process. See docs/PERFORMANCE.md.
//   bash infra/stack.sh up && npm run bench -- [--n 1000] [--rate 50] [--rate-seconds 10]
import { randomUUID } from "node:crypto";
import { Command } from "commander";
import { loadConfig } from "../shared/config.js";
import { provisionOrder } from "./crm.js";
import { CpuMeter, pidFromFile, pidsByComm } from "./bench/procs.js";
import { openOrderDesk, percentile, type OrderDesk } from "./bench/orders.js";
import { repoRoot, servicePorts, startServices, type ServiceName } from "./run-services.js";
import { setupTenants } from "./tenant-setup.js";

const program = new Command()
  .name("bench")
  .option("--n <n>", "subscribers in the burst", "1000")
  .option("--rate <r>", "offered rate for the latency run, orders/s", "50")
  .option("--rate-seconds <s>", "length of the latency run", "10")
  .option("--warmup <n>", "orders before measuring", "20")
  .parse();
const opts = program.opts<{ n: string; rate: string; rateSeconds: string; warmup: string }>();
const N = Number(opts.n);
const RATE = Number(opts.rate);
const RATE_N = Math.round(RATE * Number(opts.rateSeconds));
const WARMUP = Number(opts.warmup);

const config = loadConfig({});
const tenant = `bench-${Date.now().toString(36)}`;
const total = WARMUP + N + RATE_N;
const serial = (i: number) => `BN${tenant.slice(-7).toUpperCase()}${String(i).padStart(6, "0")}`;
// The stack's pid files; STACK_DIR as in infra/lib.sh.
const stackRun = `${process.env.STACK_DIR ?? `${repoRoot}/.stack`}/run/`;

const t0 = Date.now();
await setupTenants(config.DATABASE_URL, [
  {
    tenantId: tenant,
    plans: [{ planId: "home-500", name: "Home 500", downloadMbps: 500, uploadMbps: 100 }],
    pools: [
      { name: "v4", kind: "ipv4", cidr: "100.64.0.0/16", gateway: "100.64.0.1", isDefault: true },
      { name: "v6", kind: "ipv6", cidr: "2001:db8:64::/64", gateway: "2001:db8:64::1", isDefault: true },
      { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:6000::/36", delegatedLength: 56, isDefault: true },
    ],
    olts: [{ oltId: "olt-1", name: "OLT", onus: Array.from({ length: total }, (_, i) => ({ port: `0/${1 + (i >> 7)}/${i & 127}`, serial: serial(i) })) }],
  },
]);
console.log(`tenant ${tenant}: ${total} ONUs, /16 + /64 + /36 pools set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

function orders(from: number, count: number) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return provisionOrder(tenant, {
      order_id: `${tenant}-${i}`,
      crm_reference: `crm-${tenant}-${i}`,
      first_name: "Bench",
      last_name: `Subscriber ${i}`,
      email: `b${i}@example.com`,
      service_address: `${i} Fibre Street`,
      connection_type: "ftth",
      service_plan_id: "home-500",
      onu_serial: serial(i),
      service_vlan: 100 + Math.floor(i / 4000),
      inner_vlan: 1 + (i % 4000),
      qinq_enabled: true,
      ipv6_assignment_mode: "dual_stack",
      ipv6_pd_size: 56,
    });
  });
}

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

const names = Object.keys(servicePorts) as ServiceName[];
const running = startServices(names, { LOG_LEVEL: "warn" }, process.env.BENCH_SERVICE_LOGS !== "1");
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
while (!(await ready())) await new Promise((r) => setTimeout(r, 200));
const desk = await openOrderDesk(config.KAFKA_BROKERS, config.SCHEMA_REGISTRY_URL, `bench-${randomUUID()}`);
const m = meters([...running.children].map(([name, c]) => [name, c.pid ?? 0] as const));

try {
  const warm = orders(0, WARMUP);
  await desk.placeAll(warm);
  await desk.waitFor(warm.map((o) => o.data.order_id), 120_000);

  const burst = orders(WARMUP, N);
  const burstIds = burst.map((o) => o.data.order_id);
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

  console.log(`\nburst: ${N} provisioning orders placed at once, services as separate processes`);
  console.log(`  ${completed}/${N} completed in ${burstSecs.toFixed(1)} s: ${throughput.toFixed(1)} subscribers/s`);
  console.log(`  order -> outcome: p50 ${percentile(burstLat, 0.5)} ms, p95 ${percentile(burstLat, 0.95)} ms, p99 ${percentile(burstLat, 0.99)} ms`);
  console.log(`\n  ${"process".padEnd(12)} ${"CPU s".padStart(8)} ${"CPU ms/sub".padStart(11)} ${"peak RSS MB".padStart(12)}`);
  let cpuTotal = 0;
  for (const [name, meter] of m.rows) {
    const s = meter.seconds();
    cpuTotal += s;
    console.log(`  ${name.padEnd(12)} ${s.toFixed(1).padStart(8)} ${((s * 1000) / N).toFixed(1).padStart(11)} ${meter.peakRssMb().toFixed(0).padStart(12)}`);
  }
  console.log(`  ${"total".padEnd(12)} ${cpuTotal.toFixed(1).padStart(8)} ${((cpuTotal * 1000) / N).toFixed(1).padStart(11)}`);

  let p99 = NaN;
  if (RATE_N > 0) {
    const paced = orders(WARMUP + N, RATE_N);
    const ids = paced.map((o) => o.data.order_id);
    await desk.placeAtRate(paced, RATE);
    await desk.waitFor(ids, 120_000);
    const lat = latencies(desk, ids);
    p99 = percentile(lat, 0.99);
    console.log(`\nlatency: ${RATE_N} orders offered at ${RATE}/s`);
    console.log(`  order -> outcome: p50 ${percentile(lat, 0.5)} ms, p95 ${percentile(lat, 0.95)} ms, p99 ${p99} ms`);
  }
  const serviceRss = m.rows.filter(([n]) => names.includes(n as ServiceName)).map(([, meter]) => meter.peakRssMb());
  console.log(`\nthroughput ${throughput.toFixed(1)}/s, p99 ${p99} ms at ${RATE}/s, max RSS ${Math.max(...serviceRss).toFixed(0)} MB`);
} finally {
  await desk.close();
  await running.stop();
}
