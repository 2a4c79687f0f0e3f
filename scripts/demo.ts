// The demo (npm run demo, after infra/stack.sh up): sets up a fresh ISP tenant, starts every
// service as its own process, places four CRM orders that show the features, and prints each
// subscriber's outcome, service_metadata and timeline, plus a FreeRADIUS check.
import { randomBytes } from "node:crypto";
import { mkdirSync, createWriteStream } from "node:fs";
import type { Message } from "../schemas/generated/events.js";
import { loadConfig } from "../shared/config.js";
import { topics } from "../shared/topics.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "./crm.js";
import { accountingStart, authenticate } from "./radclient.js";
import { startFakeNas } from "./simulated-nas.js";
import { addNas } from "../services/radius/store/store.js";
import { createToken, migrateAccess } from "../shared/access/store.js";
import { connect } from "../shared/db.js";
import { servicePorts, startServices, type ServiceName } from "./run-services.js";
import { setupTenants } from "./tenant-setup.js";
import { createCodec } from "../shared/codec.js";
import { createKafka } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import { loadCatalog } from "../schemas/catalog.js";

const config = loadConfig({});
const tenant = `demo-${Date.now().toString(36)}`;
const tag = randomBytes(2).toString("hex").toUpperCase();
const serial = (n: number) => `ALCL${tag}${String(n).padStart(4, "0")}`;

const url = (s: ServiceName, path: string) => `http://127.0.0.1:${servicePorts[s]}${path}`;
/** The demo's operator token (npm run token -- create), for the services' routes. */
let token = "";
const authorized = (init: RequestInit = {}): RequestInit => ({ ...init, headers: { authorization: `Bearer ${token}` } });
const getJson = async <T>(s: ServiceName, path: string, init?: RequestInit): Promise<T> => (await (await fetch(url(s, path), authorized(init))).json()) as T;

const lines = {
  title: (s: string) => console.log(`\n\x1b[1m${s}\x1b[0m`),
  kv: (k: string, v: string) => console.log(`  ${k.padEnd(16)} ${v}`),
};

const customers: { label: string; order: ProvisionOrder }[] = [
  {
    label: "Dual-stack FTTH, QinQ 100/1001, dynamic IPv4 + IPv6 + delegated /56",
    order: {
      order_id: `${tenant}-o1`, crm_reference: "CRM-1001", first_name: "Alice", last_name: "Martin", email: "alice@example.com",
      service_address: "12 Rue des Fibres", connection_type: "ftth", service_plan_id: "home-500", onu_serial: serial(1),
      service_vlan: 100, inner_vlan: 1001, qinq_enabled: true, circuit_id: "OLT1/1/1/1:1", remote_id: "FTTH-CPE-1001", option82_policy: "log",
      ipv6_assignment_mode: "dual_stack", ipv6_pd_size: 56,
    },
  },
  {
    label: "Business line with static IPs from its network profile (and a /60)",
    order: {
      order_id: `${tenant}-o2`, crm_reference: "CRM-2001", first_name: "Bob", last_name: "Baker", email: "it@bobs-bakery.example",
      service_address: "3 Market Square", connection_type: "ftth", service_plan_id: "business-1000", onu_serial: serial(2),
      service_vlan: 300, option82_policy: "enforce", circuit_id: "OLT1/1/1/2:1", remote_id: "BIZ-2001",
      static_ipv4: "203.0.113.10", static_ipv6: "2001:db8:b0b::10", delegated_ipv6_prefix: "2001:db8:b0b:100::/60", ipv6_assignment_mode: "dual_stack", ipv6_pd_size: 60,
      // Legacy key, as older CRMs send it: the new key above wins.
      vlan_id: 999,
    },
  },
  {
    label: "Fixed-wireless line (not FTTH: no ONU to activate), IPv4 only",
    order: {
      order_id: `${tenant}-o3`, crm_reference: "CRM-3001", first_name: "Chloe", last_name: "Durand", email: "chloe@example.com",
      service_address: "Farm road 7", connection_type: "wireless", service_plan_id: "home-100", service_vlan: 210, ipv6_assignment_mode: "none",
    },
  },
  {
    label: "FTTH with an ONU that fails to activate (LOS on its PON port): rolled back",
    order: {
      order_id: `${tenant}-o4`, crm_reference: "CRM-4001", first_name: "Dan", last_name: "Dupont", email: "dan@example.com",
      service_address: "9 Dark Fiber Lane", connection_type: "ftth", service_plan_id: "home-500", onu_serial: serial(9),
      service_vlan: 100, inner_vlan: 1004, qinq_enabled: true, ipv6_assignment_mode: "dual_stack",
    },
  },
];

interface Doc {
  status: string;
  degraded_reasons?: string[];
  service_metadata: unknown;
  timeline: { at: number; event_type: string; summary: string }[];
}

async function main(): Promise<void> {
  lines.title(`Tenant ${tenant}: plans, RADIUS rate limits, prices, IP pools, an OLT with discovered ONUs`);
  await setupTenants(config.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [
        { planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20, monthly: { cents: 2490, currency: "EUR" } },
        { planId: "home-500", name: "Home 500", downloadMbps: 500, uploadMbps: 100, monthly: { cents: 3990, currency: "EUR" } },
        { planId: "business-1000", name: "Business 1000", downloadMbps: 1000, uploadMbps: 1000, monthly: { cents: 9900, currency: "EUR" } },
      ],
      pools: [
        { name: "cgnat-v4", kind: "ipv4", cidr: "100.64.0.0/20", gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.15"], isDefault: true },
        { name: "residential-v6", kind: "ipv6", cidr: "2001:db8:ffff::/64", gateway: "2001:db8:ffff::1", isDefault: true },
        { name: "residential-pd56", kind: "ipv6_pd", cidr: "2001:db8:100::/40", delegatedLength: 56, isDefault: true },
        { name: "business-pd60", kind: "ipv6_pd", cidr: "2001:db8:200::/44", delegatedLength: 60 },
        // The business customer's own ranges, registered as pools for statics only.
        { name: "bobs-bakery-v4", kind: "ipv4", cidr: "203.0.113.8/29", gateway: "203.0.113.9", usage: "static" },
        { name: "bobs-bakery-v6", kind: "ipv6", cidr: "2001:db8:b0b::/64", gateway: "2001:db8:b0b::1", usage: "static" },
        { name: "bobs-bakery-pd60", kind: "ipv6_pd", cidr: "2001:db8:b0b:100::/56", delegatedLength: 60, usage: "static" },
      ],
      olts: [{ oltId: "olt-central-1", name: "Central office OLT 1", onus: [1, 2, 9].map((n) => ({ port: `0/1/${n}`, serial: serial(n) })) }],
      failingOnus: [{ serial: serial(9), error: "LOS: no light on PON port 0/1/9" }],
    },
  ]);
  lines.kv("plans", "home-100, home-500, business-1000");
  lines.kv("pools", "100.64.0.0/20 (CGNAT), 2001:db8:ffff::/64, PD /56 from 2001:db8:100::/40, PD /60 from 2001:db8:200::/44");
  lines.kv("static pools", "203.0.113.8/29, 2001:db8:b0b::/64, PD /60 from 2001:db8:b0b:100::/56 (the business line's own ranges)");
  lines.kv("OLT", `olt-central-1 with ONUs ${serial(1)}, ${serial(2)}, ${serial(9)} (activation of ${serial(9)} fails)`);
  await migrateAccess(config.DATABASE_URL);
  {
    const { sql, db } = connect(config.DATABASE_URL, { max: 1, application: "demo" });
    const created = await createToken(db, { scope: { kind: "tenant", tenantId: tenant }, name: "demo", expiresAt: new Date(Date.now() + 86_400_000) }).finally(() => sql.end());
    token = created.token;
    lines.kv("operator token", `${created.record.id} for ${tenant}, a day (every route but /healthz and /readyz needs one: npm run token -- create --tenant ${tenant} --name you)`);
  }

  mkdirSync(".stack/logs", { recursive: true });
  const log = createWriteStream(".stack/logs/demo-services.log", { flags: "a" });
  lines.title("Starting the services (one process each; logs in .stack/logs/demo-services.log)");
  const running = startServices(Object.keys(servicePorts) as ServiceName[], {}, true);
  for (const [name, child] of running.children) {
    child.stdout?.on("data", (d: Buffer) => log.write(`${name} | ${d.toString()}`));
    child.stderr?.on("data", (d: Buffer) => log.write(`${name} | ${d.toString()}`));
  }
  try {
    await waitReady();
    for (const [name, port] of Object.entries(servicePorts)) lines.kv(name, `http://127.0.0.1:${port}/readyz ready`);

    const statuses = await statusReader();
    const crm = await connectCrm();
    const provisioned: { subscriberId: string; username: string; password: string; ip: string }[] = [];
    for (const c of customers) {
      lines.title(`Order ${c.order.order_id}: ${c.label}`);
      const started = Date.now();
      await crm.place(provisionOrder(tenant, c.order));
      const outcome = await statuses.outcome(c.order.order_id);
      lines.kv("CRM status", `${outcome.type} after ${Date.now() - started} ms${outcome.type === "OrderFailed" ? ` (step ${outcome.data.step}: ${outcome.data.reason})` : ""}`);
      const subscriberId = "subscriber_id" in outcome.data ? outcome.data.subscriber_id : null;
      if (!subscriberId) continue;
      lines.kv("subscriber", subscriberId);
      const doc = await documentSettled(subscriberId, outcome.type === "OrderFailed" ? "rolled_back" : undefined);
      lines.kv("status", `${doc.status}${doc.degraded_reasons?.length ? ` (${doc.degraded_reasons.join("; ")})` : ""}`);
      console.log("  service_metadata:");
      console.log(JSON.stringify(doc.service_metadata, null, 2).replace(/^/gm, "    "));
      console.log("  timeline:");
      for (const t of doc.timeline) console.log(`    ${new Date(t.at).toISOString().slice(11, 23)}  ${t.event_type.padEnd(33)} ${t.summary}`);
      if (outcome.type === "OrderCompleted" && c.order.connection_type === "ftth") {
        // The account's first password, which the radius service gives out once (then 410 Gone).
        const creds = await getJson<{ username: string; password: string }>("radius", `/tenants/${tenant}/subscribers/${subscriberId}/radius-credentials`);
        const answer = await authenticate(creds.username, creds.password);
        provisioned.push({ subscriberId, username: creds.username, password: creds.password, ip: answer.attributes["Framed-IP-Address"] ?? "" });
        lines.kv("FreeRADIUS", `${answer.code} for ${creds.username}`);
        for (const [k, v] of Object.entries(answer.attributes)) console.log(`    ${k} = ${v}`);
      }
      lines.kv("trace", `npm run trace -- ${subscriberId}`);
    }
    const first = provisioned[0];
    if (first) await lifecycle(crm, statuses, first);
    await crm.close();
    await statuses.stop();
  } finally {
    lines.title("Stopping the services (the stack keeps running: bash infra/stack.sh down)");
    await running.stop();
    log.end();
  }
}

/** Suspend, resume, plan change and terminate of one subscriber, with a simulated BNG answering RFC 5176. */
async function lifecycle(
  crm: Crm,
  statuses: Awaited<ReturnType<typeof statusReader>>,
  sub: { subscriberId: string; username: string; password: string; ip: string },
): Promise<void> {
  const nasSecret = randomBytes(12).toString("hex");
  const nas = await startFakeNas(nasSecret);
  const { sql, db } = connect(config.DATABASE_URL, { application: "demo" });
  try {
    await addNas(db, { tenantId: tenant, nasId: "bng-1", address: "127.0.0.1", coaPort: nas.port, secret: nasSecret });
    lines.title(`Lifecycle of ${sub.subscriberId} (${sub.username}); a simulated BNG bng-1 answers Disconnect / CoA on 127.0.0.1:${nas.port}`);
    await accountingStart(sub.username, `demo-${tenant}`, sub.ip);
    lines.kv("session", `Accounting-Start from bng-1: ${sub.username} online with ${sub.ip}`);
    const step = async (label: string, message: Parameters<Crm["place"]>[0]) => {
      const started = Date.now();
      await crm.place(message);
      const outcome = await statuses.outcome(message.meta.correlation_id);
      const auth = await authenticate(sub.username, sub.password);
      const rate = auth.attributes["Mikrotik-Rate-Limit"];
      lines.kv(label, `${outcome.type} after ${Date.now() - started} ms; FreeRADIUS now: ${auth.code}${rate ? ` (rate ${rate})` : ""}`);
    };
    const id = sub.subscriberId;
    await step("suspend", lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `${tenant}-sus`, subscriber_id: id, reason: "non-payment" }));
    await step("suspend again", lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `${tenant}-sus2`, subscriber_id: id, reason: null }));
    await step("resume", lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: `${tenant}-res`, subscriber_id: id }));
    await step("plan change", lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `${tenant}-mod`, subscriber_id: id, service_plan_id: "business-1000", bandwidth_mbps: null, effective_date: null }));
    await step("terminate", lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `${tenant}-ter`, subscriber_id: id, reason: "moved away" }));
    lines.kv("bng-1 received", nas.received.map((r) => r.code).join(", "));
    const doc = await documentSettled(id, "terminated");
    console.log("  timeline:");
    for (const t of doc.timeline) console.log(`    ${new Date(t.at).toISOString().slice(11, 23)}  ${t.event_type.padEnd(33)} ${t.summary}`);
    lines.kv("trace", `npm run trace -- ${id}`);
  } finally {
    await sql.end();
    await nas.close();
  }
}

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await Promise.all(
      (Object.keys(servicePorts) as ServiceName[]).map(async (s) => {
        try {
          return (await fetch(url(s, "/readyz"))).status === 200;
        } catch {
          return false;
        }
      }),
    );
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error("services not ready after 120 s: see .stack/logs/demo-services.log");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Reads crm.order-status.v1 from its current end, as the CRM would. */
async function statusReader() {
  const kafka = createKafka(config, "demo-crm", createLogger("demo-crm", "silent"));
  const codec = createCodec(config, loadCatalog());
  const admin = kafka.admin();
  await admin.connect();
  const marks = await admin.fetchTopicOffsets(topics.orderStatus);
  await admin.disconnect();
  const seen = new Map<string, Message>();
  const consumer = kafka.consumer({ groupId: `demo-crm-${tenant}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.orderStatus, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const m = (await codec.decode(message.value)).message;
      if (m.type === "OrderCompleted" || m.type === "OrderFailed" || m.type === "OrderRejected") seen.set(m.data.order_id, m);
    },
  });
  for (const m of marks) consumer.seek({ topic: topics.orderStatus, partition: m.partition, offset: m.high });
  return {
    async outcome(orderId: string): Promise<Message<"OrderCompleted"> | Message<"OrderFailed"> | Message<"OrderRejected">> {
      const deadline = Date.now() + 90_000;
      while (!seen.has(orderId)) {
        if (Date.now() > deadline) throw new Error(`no outcome for ${orderId} after 90 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return seen.get(orderId) as Message<"OrderCompleted">;
    },
    stop: () => consumer.disconnect(),
  };
}

/** The projection's document, once it caught up (and reached `status`, when given). */
async function documentSettled(subscriberId: string, status?: string): Promise<Doc> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(url("projection", `/tenants/${tenant}/subscribers/${subscriberId}/service-metadata`), authorized());
    if (res.status === 200) {
      const doc = (await res.json()) as Doc;
      if (!status || doc.status === status || Date.now() > deadline) {
        if (doc.status !== "provisioning") return doc;
      }
    }
    if (Date.now() > deadline) throw new Error(`projection has no settled document for ${subscriberId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

await main();
