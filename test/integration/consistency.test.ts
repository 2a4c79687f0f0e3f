// npm run consistency against what the real services made of a fresh tenant: subscribers
// provisioned through every service (one of them rolled back, one suspended, one terminated), the
// checker finds nothing; then one thing per invariant family is broken by SQL, and it names
// exactly those breaches and exits 1.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { runChecker, settledCheck } from "../support/checker.js";
import { runId, testEnv } from "../support/env.js";
import { startAll } from "../support/services.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `cons-${run}`;
const { sql } = connect(testEnv.DATABASE_URL, { max: 2 });
let services: Awaited<ReturnType<typeof startAll>> | undefined;
let crm: Crm;
let status: Watch;

const serial = (name: string) => `CONS${run.slice(-6).toUpperCase()}${name}`;
const names = ["A", "B", "C", "D", "F", "G", "S", "T"] as const; // FTTH lines that end active (S suspended, T terminated)
type Name = (typeof names)[number] | "W" | "X";

const order = (name: Name, n: number, over: Partial<ProvisionOrder> = {}): ProvisionOrder => ({
  order_id: `ord-${run}-${name}`,
  crm_reference: `cust-${run}-${name}`,
  first_name: "Edsger",
  last_name: name,
  email: `${name.toLowerCase()}@example.com`,
  service_address: `${n} Invariant Lane`,
  connection_type: "ftth",
  service_plan_id: "home-100",
  onu_serial: serial(name),
  service_vlan: 300,
  inner_vlan: 3000 + n,
  qinq_enabled: true,
  ipv6_assignment_mode: "dual_stack",
  ipv6_pd_size: 56,
  ...over,
});

const terminal = ["OrderCompleted", "OrderFailed", "OrderRejected"];
async function place(m: Message, orderId: string): Promise<Message> {
  await crm.place(m);
  const ms = await status.waitFor(orderId, (list) => list.some((x) => terminal.includes(x.type)), 120_000);
  return ms.find((x) => terminal.includes(x.type)) as Message;
}

const breachLines = (out: string) => out.split("\n").filter((l) => l.startsWith("BREACH"));
const ids = new Map<Name, string>();
const id = (name: Name): string => ids.get(name) ?? "";

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [{ planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 }],
      pools: [
        { name: "v4", kind: "ipv4", cidr: "100.70.0.0/24", gateway: "100.70.0.1", isDefault: true },
        { name: "v6", kind: "ipv6", cidr: "2001:db8:70::/64", gateway: "2001:db8:70::1", isDefault: true },
        { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:7000::/40", delegatedLength: 56, isDefault: true },
      ],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [...names, "X"].map((name, i) => ({ port: `0/1/${i}`, serial: serial(name) })) }],
      failingOnus: [{ serial: serial("X"), error: "LOS: no light" }],
    },
  ]);
  services = await startAll();
  crm = await connectCrm(testEnv);
  status = await watch(topics.orderStatus);
}, 180_000);

afterAll(async () => {
  await status?.stop();
  await crm?.close();
  await services?.stop();
  await sql.end();
});

it("finds nothing wrong with what the services did, then names exactly what was broken by hand", async () => {
  // Provision eight FTTH lines, a wireless one (no ONU) and one whose ONU fails (rolled back), all at once.
  const orders: Array<[Name, ProvisionOrder]> = [
    ...names.map((name, i): [Name, ProvisionOrder] => [name, order(name, i + 1)]),
    ["W", order("W", 9, { connection_type: "wireless", onu_serial: null })],
    ["X", order("X", 10)],
  ];
  const outcomes = await Promise.all(orders.map(([, o]) => place(provisionOrder(tenant, o), o.order_id)));
  orders.forEach(([name], i) => {
    const outcome = outcomes[i];
    expect(outcome?.type, `${name}: ${JSON.stringify(outcome?.data)}`).toBe(name === "X" ? "OrderFailed" : "OrderCompleted");
    if (outcome && "subscriber_id" in outcome.data && outcome.data.subscriber_id) ids.set(name, outcome.data.subscriber_id);
  });

  // S suspended; C suspended and resumed; T terminated.
  const lifecycle = async (type: "suspend" | "resume" | "terminate", name: Name) => {
    const ref = { order_id: `${type}-${run}-${name}`, subscriber_id: id(name) };
    const m =
      type === "suspend"
        ? lifecycleOrder(tenant, "SuspendOrderPlaced", { ...ref, reason: null })
        : type === "resume"
          ? lifecycleOrder(tenant, "ResumeOrderPlaced", ref)
          : lifecycleOrder(tenant, "TerminateOrderPlaced", { ...ref, reason: null });
    expect((await place(m, ref.order_id)).type).toBe("OrderCompleted");
  };
  await Promise.all([lifecycle("suspend", "S"), lifecycle("suspend", "C"), lifecycle("terminate", "T")]);
  await lifecycle("resume", "C");

  // Consistent once the last steps (the projection, the profile's write-back) have caught up.
  const clean = await settledCheck(tenant, 60_000);
  console.log(`clean run:\n${clean.out}`);
  expect(clean.code).toBe(0);
  expect(clean.out).not.toContain("IN FLIGHT");
  expect(clean.out).toContain("10 subscribers (7 active, 1 archived, 1 rolled_back, 1 suspended)");
  expect(clean.out).toMatch(/\nconsistent\n/);

  // Nothing may react to what follows.
  await services?.stop();
  services = undefined;

  const [a, b] = [id("A"), id("B")].sort() as [string, string];
  const user = async (subscriber: string) => (await sql<{ username: string }[]>`select username from radius.accounts where tenant_id = ${tenant} and subscriber_id = ${subscriber}`)[0]?.username ?? "";
  const address = async (subscriber: string, family: string) =>
    (await sql<{ address: string }[]>`select address from ipam.allocations where tenant_id = ${tenant} and subscriber_id = ${subscriber} and family = ${family}`)[0]?.address ?? "";
  const aPrefix = await address(a, "ipv6_pd");
  const inside = aPrefix.replace("/56", "/60"); // the first /60 of a's /56
  const [cIpv4, fIpv4, tUser] = [await address(id("C"), "ipv4"), await address(id("F"), "ipv4"), await user(id("T"))];

  // unique-ips: b's delegated prefix moved inside a's, the same everywhere b's is written (IPAM, RADIUS, profile).
  await sql`update ipam.allocations set address = ${inside} where tenant_id = ${tenant} and subscriber_id = ${b} and family = 'ipv6_pd'`;
  await sql`update radius.radreply set value = ${inside} where tenant_id = ${tenant} and username = ${await user(b)} and attribute = 'Delegated-IPv6-Prefix'`;
  await sql`update profile.subscriber_network_profiles set delegated_ipv6_prefix = ${inside} where tenant_id = ${tenant} and subscriber_id = ${b}`;
  // radius-ips: FreeRADIUS hands C an address IPAM never gave it.
  await sql`update radius.radreply set value = '100.70.0.250' where tenant_id = ${tenant} and username = ${await user(id("C"))} and attribute = 'Framed-IP-Address'`;
  // active-complete: D's billing record cancelled behind everyone's back.
  await sql`update billing.billing_services set status = 'cancelled' where tenant_id = ${tenant} and subscriber_id = ${id("D")}`;
  // nothing-left: a radcheck row of the terminated T.
  await sql`insert into radius.radcheck (tenant_id, username, attribute, op, value) values (${tenant}, ${tUser}, 'Cleartext-Password', ':=', 'left-behind')`;
  // orders-terminal: W's row says a suspend has been in flight for an hour.
  await sql`update subscriber.subscribers set pending_order = ${JSON.stringify({ order_id: `sus-${run}-W`, order_type: "suspend", answers: [] })}::jsonb, last_progress_at = now() - interval '1 hour'
             where tenant_id = ${tenant} and subscriber_id = ${id("W")}`;
  // profile-ips: F's profile names another address than IPAM's.
  await sql`update profile.subscriber_network_profiles set static_ipv4 = '100.70.0.251' where tenant_id = ${tenant} and subscriber_id = ${id("F")}`;
  // projection-fold: G's document says suspended; its events say active.
  await sql`update projection.service_entities set status = 'suspended' where tenant_id = ${tenant} and subscriber_id = ${id("G")}`;
  // And an order no service can answer (its id is too long: the subscriber service dead-letters it): in flight, not a breach, within the grace period.
  const lost = `lost-${run}-${"x".repeat(100)}`;
  await crm.place(lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: lost, subscriber_id: id("A"), reason: null }));

  const broken = await runChecker(tenant);
  console.log(`broken run:\n${broken.out}`);
  expect(broken.code).toBe(1);
  const quiet = /no progress for (\d+) s/.exec(broken.out);
  expect(Number(quiet?.[1])).toBeGreaterThanOrEqual(3600);
  expect(breachLines(broken.out).map((l) => l.replace(/no progress for \d+ s/, "no progress for N s"))).toEqual([
    `BREACH    unique-ips      tenant=${tenant} subscriber=${a}: delegated prefix ${aPrefix} (IPAM) overlaps delegated prefix ${inside} (IPAM) of subscriber ${b}`,
    `BREACH    radius-ips      tenant=${tenant} subscriber=${id("C")}: Framed-IP-Address 100.70.0.250, IPAM IPv4 ${cIpv4}`,
    `BREACH    active-complete tenant=${tenant} subscriber=${id("D")}: active: no billing record that charges`,
    `BREACH    nothing-left    tenant=${tenant} subscriber=${id("T")}: terminated: radcheck (Cleartext-Password) left for ${tUser}`,
    `BREACH    orders-terminal tenant=${tenant} subscriber=${id("W")}: suspend order sus-${run}-W in flight, no progress for N s`,
    `BREACH    profile-ips     tenant=${tenant} subscriber=${id("F")}: IPv4: profile 100.70.0.251, IPAM ${fIpv4}`,
    `BREACH    projection-fold tenant=${tenant} subscriber=${id("G")}: status: stored "suspended", fold "active"`,
  ]);
  expect(broken.out).toContain(`IN FLIGHT orders-terminal tenant=${tenant} subscriber=${id("A")}: SuspendOrderPlaced ${lost} placed`);
  expect(broken.out).toMatch(/\n7 breaches\n/);
  // The password hash of a RADIUS account is never printed.
  expect(broken.out).not.toContain("left-behind");
}, 300_000);
