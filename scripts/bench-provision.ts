// Benchmark (prints numbers; not a test): end-to-end time of one provisioning on the local stack,
// from the CRM publishing ProvisionOrderPlaced to the CRM receiving OrderCompleted, every
// service running as its own process. Orders go one after another (latency, not throughput).
//   bash infra/stack.sh up && npm run bench:provision [-- N]
import { Kafka, logLevel } from "kafkajs";
import { loadCatalog } from "../schemas/catalog.js";
import { createCodec } from "../shared/codec.js";
import { loadConfig } from "../shared/config.js";
import { topics } from "../shared/topics.js";
import { connectCrm, provisionOrder } from "./crm.js";
import { servicePorts, startServices, type ServiceName } from "./run-services.js";
import { setupTenants } from "./tenant-setup.js";

const n = Number(process.argv[2] ?? 20);
const config = loadConfig({});
const tenant = `bench-${Date.now().toString(36)}`;
const serial = (i: number) => `BNCH${tenant.slice(-6).toUpperCase()}${String(i).padStart(3, "0")}`;

await setupTenants(config.DATABASE_URL, [
  {
    tenantId: tenant,
    plans: [{ planId: "home-500", name: "Home 500", downloadMbps: 500, uploadMbps: 100 }],
    pools: [
      { name: "v4", kind: "ipv4", cidr: "100.80.0.0/20", gateway: "100.80.0.1", isDefault: true },
      { name: "v6", kind: "ipv6", cidr: "2001:db8:80::/64", gateway: "2001:db8:80::1", isDefault: true },
      { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:8000::/40", delegatedLength: 56, isDefault: true },
    ],
    olts: [{ oltId: "olt-1", name: "OLT", onus: Array.from({ length: n + 1 }, (_, i) => ({ port: `0/1/${i % 16}`, serial: serial(i) })) }],
  },
]);

const running = startServices(Object.keys(servicePorts) as ServiceName[], { LOG_LEVEL: "warn" }, true);
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

const kafka = new Kafka({ clientId: "bench", brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
const codec = createCodec(config.SCHEMA_REGISTRY_URL, loadCatalog());
const admin = kafka.admin();
await admin.connect();
const marks = await admin.fetchTopicOffsets(topics.orderStatus);
await admin.disconnect();
const done = new Map<string, { at: number; type: string }>();
const consumer = kafka.consumer({ groupId: `bench-${tenant}` });
await consumer.connect();
await consumer.subscribe({ topic: topics.orderStatus, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    const m = (await codec.decode(message.value)).message;
    if (m.type === "OrderCompleted" || m.type === "OrderFailed" || m.type === "OrderRejected") done.set(m.data.order_id, { at: Date.now(), type: m.type });
  },
});
for (const m of marks) consumer.seek({ topic: topics.orderStatus, partition: m.partition, offset: m.high });
const crm = await connectCrm();

async function one(i: number): Promise<number> {
  const orderId = `${tenant}-${i}`;
  const started = Date.now();
  await crm.place(
    provisionOrder(tenant, {
      order_id: orderId, crm_reference: `c-${i}`, first_name: "B", last_name: "Ench", email: `b${i}@example.com`, service_address: "x",
      connection_type: "ftth", service_plan_id: "home-500", onu_serial: serial(i), service_vlan: 100, inner_vlan: 1000 + i, qinq_enabled: true,
      ipv6_assignment_mode: "dual_stack", ipv6_pd_size: 56,
    }),
  );
  while (!done.has(orderId)) {
    if (Date.now() - started > 60_000) throw new Error(`no outcome for ${orderId}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const outcome = done.get(orderId);
  if (outcome?.type !== "OrderCompleted") throw new Error(`${orderId}: ${outcome?.type}`);
  return (outcome?.at ?? 0) - started;
}

try {
  await one(n); // warm-up: connections, schema caches, JIT
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await one(i));
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  console.log(`end-to-end provisioning (ProvisionOrderPlaced -> OrderCompleted), ${n} sequential orders, 7 service processes`);
  console.log(`  median ${pct(0.5)} ms   min ${times[0]} ms   p90 ${pct(0.9)} ms   max ${times.at(-1)} ms`);
} finally {
  await crm.close();
  await consumer.disconnect();
  await running.stop();
}
