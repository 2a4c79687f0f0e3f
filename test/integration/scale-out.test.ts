// Scale-out: two instances of every service, each pair in one consumer group (two all-in-one
// processes, so seven groups of two), provision 100 subscribers while the membership changes
// under load, and no effect happens twice.
// - A crash: instance A is SIGKILLed after about 30 outcomes. A runs with its offset commits
//   withheld (test/support/withhold-commits.mjs), the widest form of the window a crash can hit:
//   between a unit of work's commit in PostgreSQL and its offset commit in Kafka. So when A dies,
//   the group hands everything A applied to the survivor B again (the test counts it), and the
//   inbox, backed by decisions that emit nothing once their outcome happened, must keep that
//   redelivery from becoming a second effect. Two new instances, C and D, start.
// - A rolling hand-over: once C and D have joined, B is stopped gracefully (SIGTERM, exit 0)
//   with orders in flight.
// Then, for this run's tenant: every order completed; one row per effect in every service's
// tables; each service's outbox holds each of its events once per order; one success event per
// subscriber and type on the lifecycle topic and one OrderAccepted and OrderCompleted per order,
// counted by distinct event id (the same event published twice is the relay's at-least-once
// window; the same fact under two event ids is a duplicate effect); nothing dead-lettered.
//
// The groups are fresh (KAFKA_GROUP_SUFFIX unique to the run) and start at the topics' current
// end, not at the beginning of a shared stack's history.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants, type TenantSpec } from "../../scripts/tenant-setup.js";
import { definition as billing } from "../../services/billing/service.js";
import { definition as ipam } from "../../services/ipam/service.js";
import { definition as olt } from "../../services/olt/service.js";
import { definition as profile } from "../../services/profile/service.js";
import { definition as projection } from "../../services/projection/service.js";
import { definition as radius } from "../../services/radius/service.js";
import { definition as subscriber } from "../../services/subscriber/service.js";
import { connect } from "../../shared/db.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { runId, testEnv } from "../support/env.js";
import { groupAdmin, tp, type Groups, type GroupState } from "../support/groups.js";
import { waitUntil } from "../support/kafka.js";
import { startProcess, within, type Proc } from "../support/process.js";
import { tap, type Tap } from "../support/tap.js";

const run = runId();
const tenant = `scale-${run}`;
const orders = 100;
/** Orders in flight at most: the CRM keeps placing while instances come and go. */
const window = 25;
const crashAfter = 30;
/** Orders placed before the new instances have joined; the rest after. */
const beforeReplacement = 55;
/** Loaded into instance A: its offset commits never reach the broker. */
const withholdCommits = fileURLToPath(new URL("../support/withhold-commits.mjs", import.meta.url));

const services = [subscriber, profile, ipam, radius, olt, billing, projection].map((d) => {
  const def = d();
  return { name: def.name, schema: def.tables.schema.schemaName ?? def.name, groupId: `${def.name}-scale-${run}`, topics: def.consumes };
});
const groupIds = services.map((s) => s.groupId);
const dlqTopics = services.map((s) => dlqTopic(s.name));

const instanceEnv: Record<string, string> = {
  ...testEnv,
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
  KAFKA_GROUP_SUFFIX: `-scale-${run}`,
  // The deadline sweep of these instances leaves other runs' subscribers alone.
  DEADLINE_SWEEP_TENANTS: tenant,
  ...Object.fromEntries(services.map((s) => [`HTTP_PORT_${s.name.toUpperCase()}`, "0"])),
};

const serial = (i: number) => `SCAL${String(i).padStart(8, "0")}`;
const spec: TenantSpec = {
  tenantId: tenant,
  plans: [{ planId: "fiber-500", name: "Fiber 500", downloadMbps: 500, uploadMbps: 100 }],
  pools: [
    { name: "v4", kind: "ipv4", cidr: "100.72.0.0/24", gateway: "100.72.0.1", isDefault: true },
    { name: "v6", kind: "ipv6", cidr: "2001:db8:72::/64", gateway: "2001:db8:72::1", isDefault: true },
    { name: "pd56", kind: "ipv6_pd", cidr: "2001:db8:7200::/40", delegatedLength: 56, isDefault: true },
  ],
  olts: [{ oltId: "olt-1", name: "Scale OLT", onus: Array.from({ length: orders + 10 }, (_, i) => ({ port: `0/1/${i % 8}`, serial: serial(i + 1) })) }],
};

const order = (i: number): ProvisionOrder => ({
  order_id: `so-${run}-${i}`,
  crm_reference: `sc-${run}-${i}`,
  first_name: "Grace",
  last_name: "Hopper",
  email: `grace${i}@example.com`,
  service_address: `${i} Fiber Street`,
  connection_type: "ftth",
  service_plan_id: "fiber-500",
  onu_serial: serial(i),
  service_vlan: 100,
  inner_vlan: 1000 + i,
  qinq_enabled: true,
  circuit_id: `OLT1/1/1/1:${i}`,
  remote_id: `FTTH-CPE-${i}`,
  option82_policy: "log",
  ipv6_assignment_mode: "dual_stack",
  ipv6_pd_size: 56,
});
const orderIds = Array.from({ length: orders }, (_, i) => order(i + 1).order_id);

/** The success events of one provisioning, each exactly once per subscriber. */
const successTypes = [
  "SubscriberCreated",
  "NetworkProfileCreated",
  "IpAllocated",
  "NetworkProfileUpdated", // the dynamic IPs written back to the profile
  "RadiusAccountCreated",
  "OnuActivated",
  "BillingServiceCreated",
  "SubscriberProvisioned",
] as const;

const { sql } = connect(testEnv.DATABASE_URL, { application: "scale-out-test" });
let crm: Crm;
let tapped: Tap;
let groups: Groups;

interface Instance {
  readonly label: string;
  readonly proc: Proc;
  /** groupId -> this instance's member id in it (A and B: known once A has left). */
  readonly members: Map<string, string>;
}
const instances: Instance[] = [];
/** Event ids of the orders placed, for the inbox query. */
const placedEventIds = new Set<string>();
/** Orders the CRM may place so far (the test moves it on as instances come and go). */
let allowed = 0;
let placed = 0;

const ours = (m: Message | null): m is Message => m !== null && m.meta.tenant_id === tenant;
const terminal = new Set(["OrderCompleted", "OrderFailed", "OrderRejected"]);

/** Order id -> its outcome(s) on crm.order-status.v1. */
function outcomes(): Map<string, Message[]> {
  const out = new Map<string, Message[]>();
  for (const s of tapped.seen) {
    if (s.topic !== topics.orderStatus || !ours(s.message) || !terminal.has(s.message.type)) continue;
    const id = "order_id" in s.message.data ? s.message.data.order_id : "";
    out.set(id, [...(out.get(id) ?? []), s.message]);
  }
  return out;
}

const tail = (s: string, n = 6000) => (s.length > n ? `…${s.slice(-n)}` : s);
const logs = () => instances.map((i) => `--- instance ${i.label} (pid ${i.proc.child.pid})\n${tail(i.proc.output())}`).join("\n");
const alive = (i: Instance) => i.proc.child.exitCode === null && i.proc.child.signalCode === null;

function launch(label: string, env: Record<string, string> = {}): Instance {
  const instance: Instance = { label, proc: startProcess("scripts/all-in-one.ts", { ...instanceEnv, ...env }), members: new Map() };
  instances.push(instance);
  return instance;
}

/** Waits until every group is stable and `ok` holds for its member ids; `starting` must stay alive meanwhile. */
async function waitForGroups(what: string, starting: readonly Instance[], ok: (groupId: string, memberIds: readonly string[]) => boolean): Promise<Map<string, GroupState>> {
  let described = new Map<string, GroupState>();
  await waitUntil(
    async () => {
      for (const i of starting) if (!alive(i)) throw new Error(`instance ${i.label} exited\n${i.proc.output()}`);
      described = await groups.describe(groupIds);
      return groupIds.every((g) => {
        const d = described.get(g);
        return d?.state === "Stable" && ok(g, d.members.map((m) => m.memberId));
      });
    },
    120_000,
    () => `${what}: ${[...described].map(([g, d]) => `${g} ${d.state} ${d.members.length}`).join(", ")}\n${logs()}`,
  );
  return described;
}

/**
 * Events of this run that `memberOf` applied (the service's inbox has them) on partitions it
 * owned in `described`, at or past its group's committed offset: what the group hands out again
 * once that member is gone.
 */
async function appliedNotCommitted(described: Map<string, GroupState>, memberOf: (groupId: string) => string | undefined): Promise<Record<string, number>> {
  const ids = [...placedEventIds, ...tapped.seen.filter((s) => ours(s.message)).map((s) => s.message?.meta.event_id ?? "")];
  const out: Record<string, number> = {};
  await Promise.all(
    services.map(async (s) => {
      const member = described.get(s.groupId)?.members.find((m) => m.memberId === memberOf(s.groupId));
      if (!member) return;
      const committed = await groups.committed(s);
      const rows = await sql<{ topic: string; partition: number; offset: string }[]>`
        select topic, partition, "offset" from ${sql(s.schema)}.inbox
        where consumer = ${s.name} and event_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;
      out[s.name] = rows.filter((r) => member.assignment[r.topic]?.includes(r.partition) && Number(r.offset) >= (committed.get(tp(r.topic, r.partition)) ?? Infinity)).length;
    }),
  );
  return out;
}
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

async function placeOrders(): Promise<void> {
  for (let i = 1; i <= orders; i++) {
    await waitUntil(() => i <= allowed && i - 1 - outcomes().size < window, 240_000, () => `room for order ${i} (${outcomes().size} outcomes, ${allowed} allowed)`);
    const message = provisionOrder(tenant, order(i));
    placedEventIds.add(message.meta.event_id);
    await crm.place(message);
    placed = i;
  }
}

async function waitForOutcomes(n: number, timeoutMs: number): Promise<void> {
  await waitUntil(() => outcomes().size >= n, timeoutMs, () => {
    const done = outcomes();
    const missing = orderIds.filter((id) => !done.has(id));
    const story = (id: string) =>
      tapped.seen
        .filter((s) => ours(s.message) && s.message.meta.correlation_id === id)
        .map((s) => s.message?.type)
        .join(" ");
    return `${n} outcomes, ${done.size} so far; ${missing.length} missing, e.g. ${missing.slice(0, 5).map((id) => `${id}: [${story(id)}]`).join("; ")}\n${logs()}`;
  });
}

/** Every group has committed everything that was on its topics, every outbox of this tenant is published, and the tap has read all of it. */
async function quiesce(): Promise<void> {
  const highs = await groups.highWatermarks([topics.crmOrders, topics.lifecycle, topics.orderStatus]);
  await waitUntil(
    async () => {
      for (const s of services) {
        const committed = await groups.committed(s);
        for (const [k, high] of highs) if (s.topics.some((t) => k.startsWith(`${t}:`)) && (committed.get(k) ?? -1) < high) return false;
      }
      return true;
    },
    60_000,
    () => "every group to commit up to the high watermarks",
  );
  await waitUntil(
    async () => {
      for (const s of services) {
        const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(s.schema)}.outbox where published_at is null and meta->>'tenant_id' = ${tenant}`;
        if ((row?.n ?? 0) > 0) return false;
      }
      return true;
    },
    60_000,
    () => "every outbox of the tenant to be published",
  );
  const after = await groups.highWatermarks([topics.lifecycle, topics.orderStatus, ...dlqTopics]);
  await waitUntil(() => tapped.reached(after), 60_000, () => "the tap to read up to the high watermarks");
}

/** Rows whose count is not 1, as readable lines (empty: no duplicate). */
const notOnce = <R extends { n: number }>(rows: readonly R[], show: (r: R) => string): string[] => rows.filter((r) => r.n !== 1).map((r) => `${show(r)}: ${r.n}`);

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
}

/**
 * Problems, as readable lines, unless `events` (distinct event ids) hold each of `types` exactly
 * once and nothing else. Two events of one type with different ids are one fact twice: a
 * duplicate effect; the line names their ids and causes.
 */
function exactlyOnce(events: readonly Message[], types: readonly string[], who: string): string[] {
  const byType = groupBy(events, (m) => m.type);
  return [
    ...types.filter((t) => byType.get(t)?.length !== 1).map((t) => {
      const ms = byType.get(t) ?? [];
      return `${who}: ${t} ${ms.length} times${ms.map((m) => `; event ${m.meta.event_id} caused by ${m.meta.causation_id ?? "-"} from ${m.meta.producer}`).join("")}`;
    }),
    ...[...byType].filter(([t]) => !types.includes(t)).map(([t, ms]) => `${who}: unexpected ${t} x${ms.length}`),
  ];
}

const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  await setupTenants(testEnv.DATABASE_URL, [spec]);
  timings.tenant_ms = Date.now() - t0;
  groups = await groupAdmin();
  [, tapped, crm] = await Promise.all([groups.startAtEnd(services), tap([topics.lifecycle, topics.orderStatus, ...dlqTopics]), connectCrm(testEnv)]);
  timings.setup_ms = Date.now() - t0;
}, 120_000);

afterAll(async () => {
  await Promise.all(
    instances.filter(alive).map(async (i) => {
      i.proc.child.kill("SIGTERM");
      await within(i.proc.exited, 30_000, () => `instance ${i.label} to stop`).catch(() => i.proc.child.kill("SIGKILL"));
    }),
  );
  await tapped?.stop();
  await crm?.close();
  await groups?.close();
  await sql.end();
}, 120_000);

it("two instances of every service provision 100 subscribers through a crash and a hand-over, with no effect twice", async () => {
  const t0 = Date.now();
  const at = (name: string) => (timings[name] = Date.now() - t0);
  try {
    // A and B start together; every group ends up with the two of them, each owning a share.
    const a = launch("A", { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${withholdCommits}`.trim() });
    const b = launch("B");
    const before = await waitForGroups("A and B to join", [a, b], (_, ids) => ids.length === 2);
    at("started_ms");
    for (const g of groupIds) {
      for (const m of before.get(g)?.members ?? []) expect(Object.values(m.assignment).flat().length, `${g}: ${m.memberId} owns partitions`).toBeGreaterThan(0);
    }
    const pair = (g: string) => (before.get(g)?.members ?? []).map((m) => m.memberId);

    allowed = beforeReplacement;
    const placing = placeOrders();
    placing.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile

    // ---- the crash, and two new instances -------------------------------------------------
    await waitForOutcomes(crashAfter, 120_000);
    a.proc.child.kill("SIGKILL");
    at("crash_ms");
    timings.crash_at_outcome = outcomes().size;
    // Nobody commits for A any more: what its members applied past the committed offsets is
    // handed out again. Counted for both members of each pair; A's is the one that leaves.
    const perMember = await Promise.all([0, 1].map((k) => appliedNotCommitted(before, (g) => pair(g)[k])));
    expect((await within(a.proc.exited, 10_000, () => "A to die")).signal).toBe("SIGKILL");
    const c = launch("C");
    const d = launch("D");
    const three = await waitForGroups("C and D to join, A to be gone", [b, c, d], (g, ids) => ids.length === 3 && ids.filter((id) => pair(g).includes(id)).length === 1);
    at("replaced_ms");
    const redelivered: Record<string, number> = {};
    for (const s of services) {
      const now = (three.get(s.groupId)?.members ?? []).map((m) => m.memberId);
      const k = pair(s.groupId).findIndex((id) => !now.includes(id));
      a.members.set(s.groupId, pair(s.groupId)[k] ?? "");
      b.members.set(s.groupId, pair(s.groupId)[1 - k] ?? "");
      redelivered[s.name] = perMember[k]?.[s.name] ?? 0;
    }

    // ---- the rolling hand-over: B leaves gracefully with orders in flight -------------------
    allowed = orders;
    await waitUntil(() => placed >= orders - 10 || outcomes().size >= orders, 120_000, () => `orders to be placed (${placed})`);
    timings.handover_at_outcome = outcomes().size;
    timings.handover_in_flight = placed - outcomes().size;
    b.proc.child.kill("SIGTERM");
    expect((await within(b.proc.exited, 60_000, () => `B to stop\n${b.proc.output()}`)).code).toBe(0);
    await waitForGroups("B to be gone", [c, d], (g, ids) => ids.length === 2 && !ids.includes(b.members.get(g) ?? ""));
    at("b_left_ms");

    await placing;
    await waitForOutcomes(orders, 180_000);
    at("outcomes_ms");
    await quiesce();
    at("quiet_ms");

    // What the run went through, printed before any verdict.
    const republished: Record<string, number> = {};
    const distinct = new Map<string, Map<string, Message>>([[topics.lifecycle, new Map()], [topics.orderStatus, new Map()]]); // topic -> event id -> event
    for (const t of tapped.seen) {
      const byId = distinct.get(t.topic);
      if (!byId || !ours(t.message)) continue;
      // The same event id twice: the relay's at-least-once window (docs/runtime.md), allowed.
      if (byId.has(t.message.meta.event_id)) republished[t.message.type] = (republished[t.message.type] ?? 0) + 1;
      byId.set(t.message.meta.event_id, t.message);
    }
    const eventsOn = (topic: string) => [...(distinct.get(topic)?.values() ?? [])];
    console.log(`scale-out: ${JSON.stringify({ ...timings, redelivered_after_crash: redelivered, republished_same_event_id: republished })}`);
    // The crash did hand applied events to the survivor again (else the run proves little).
    expect(total(redelivered), "events A applied but had not committed when it died").toBeGreaterThan(0);

    // ---- crm.order-status.v1: one OrderAccepted and one OrderCompleted per order -------------
    const byOrder = groupBy(eventsOn(topics.orderStatus), (m) => ("order_id" in m.data ? m.data.order_id : ""));
    const subscriberOf = new Map<string, string>(); // subscriber -> order
    for (const [id, ms] of outcomes()) subscriberOf.set((ms[0] as Message<"OrderCompleted">).data.subscriber_id, id);
    const subscribers = [...subscriberOf.keys()].sort();
    expect.soft(subscribers, "a subscriber per completed order").toHaveLength(orders);
    expect.soft(
      orderIds.flatMap((id) => exactlyOnce(byOrder.get(id) ?? [], ["OrderAccepted", "OrderCompleted"], `order ${id}`)),
      "crm.order-status.v1: exactly one OrderAccepted and one OrderCompleted per order (distinct event ids)",
    ).toEqual([]);

    // ---- subscriber.lifecycle.v1: each success once per subscriber -----------------------------
    const bySubscriber = groupBy(eventsOn(topics.lifecycle), (m) => m.meta.subscriber_id ?? "");
    expect.soft([...bySubscriber.keys()].sort(), "subscribers on the lifecycle topic").toEqual(subscribers);
    expect.soft(
      subscribers.flatMap((sub) => exactlyOnce(bySubscriber.get(sub) ?? [], successTypes, `subscriber ${sub} (${subscriberOf.get(sub)})`)),
      "subscriber.lifecycle.v1: each success event exactly once per subscriber (distinct event ids)",
    ).toEqual([]);

    // ---- nothing dead-lettered ---------------------------------------------------------------
    const dead = tapped.seen.filter((t) => dlqTopics.includes(t.topic) && (t.headers["tenant-id"] === tenant || ours(t.message)));
    expect.soft(dead.map((t) => `${t.topic}: ${t.headers["dlq-code"]} ${t.headers["dlq-reason"]}`), "dead letters of this tenant").toEqual([]);

    // ---- every outbox: each service wrote each of its facts once per order -------------------
    const written: Record<string, readonly string[]> = {
      subscriber: ["OrderAccepted", "SubscriberCreated", "SubscriberProvisioned", "OrderCompleted"],
      profile: ["NetworkProfileCreated", "NetworkProfileUpdated"],
      ipam: ["IpAllocated"],
      radius: ["RadiusAccountCreated"],
      olt: ["OnuActivated"],
      billing: ["BillingServiceCreated"],
    };
    for (const [schema, types] of Object.entries(written)) {
      const rows = await sql<{ event_id: string; type: string; meta: Message["meta"] }[]>`
        select event_id, type, meta from ${sql(schema)}.outbox where meta->>'tenant_id' = ${tenant}`;
      const asEvents = rows.map((r) => ({ type: r.type, meta: { ...r.meta, event_id: r.event_id }, data: {} }) as unknown as Message);
      const perOrder = groupBy(asEvents, (m) => m.meta.correlation_id);
      expect.soft(orderIds.flatMap((id) => exactlyOnce(perOrder.get(id) ?? [], types, `order ${id}`)), `${schema}.outbox: each event once per order`).toEqual([]);
    }

    // ---- every service's tables: one row per effect ------------------------------------------
    const subs = await sql<{ order_id: string; subscriber_id: string; status: string; n: number }[]>`
      select order_id, min(subscriber_id::text) as subscriber_id, min(status) as status, count(*)::int as n
      from subscriber.subscribers where tenant_id = ${tenant} group by order_id`;
    expect.soft(subs.map((r) => r.order_id).sort(), "subscriber.subscribers: the orders").toEqual([...orderIds].sort());
    expect.soft(notOnce(subs, (r) => `subscriber rows of ${r.order_id}`), "subscriber.subscribers: one row per order").toEqual([]);
    expect.soft(subs.filter((r) => r.status !== "active" || subscriberOf.get(r.subscriber_id) !== r.order_id).map((r) => `${r.order_id} ${r.subscriber_id} ${r.status}`), "subscriber.subscribers: active, as completed").toEqual([]);

    const perSubscriber = (what: string, rows: ReadonlyArray<{ subscriber_id: string; n: number }>, each = 1) => {
      expect.soft(rows.map((r) => r.subscriber_id).sort(), `${what}: the subscribers`).toEqual(subscribers);
      expect.soft(rows.filter((r) => r.n !== each).map((r) => `${r.subscriber_id}: ${r.n}`), `${what}: ${each} per subscriber`).toEqual([]);
    };
    perSubscriber(
      "profile.subscriber_network_profiles",
      await sql`select subscriber_id, count(*)::int as n from profile.subscriber_network_profiles where tenant_id = ${tenant} group by subscriber_id`,
    );
    perSubscriber(
      "ipam.allocations (ipv4, ipv6, ipv6_pd)",
      await sql`select subscriber_id, count(*)::int as n from ipam.allocations where tenant_id = ${tenant} group by subscriber_id having count(distinct family) = 3`,
      3,
    );
    const heldTwice = await sql<{ family: string; address: string; n: number }[]>`
      select family, address, count(*)::int as n from ipam.allocations where tenant_id = ${tenant} group by family, address having count(*) > 1`;
    expect.soft(heldTwice.map((r) => `${r.family} ${r.address}: ${r.n}`), "ipam.allocations: no address held twice").toEqual([]);

    const accounts = await sql<{ subscriber_id: string; username: string; n: number }[]>`
      select subscriber_id, min(username) as username, count(*)::int as n from radius.accounts where tenant_id = ${tenant} group by subscriber_id`;
    perSubscriber("radius.accounts", accounts);
    const usernames = accounts.map((r) => r.username).sort();
    for (const table of ["radcheck", "radusergroup"]) {
      const rows = await sql<{ username: string; n: number }[]>`
        select username, count(*)::int as n from ${sql("radius")}.${sql(table)} where tenant_id = ${tenant} group by username`;
      expect.soft(rows.map((r) => r.username).sort(), `radius.${table}: the usernames`).toEqual(usernames);
      expect.soft(notOnce(rows, (r) => r.username), `radius.${table}: one row per username`).toEqual([]);
    }
    const replyTwice = await sql<{ username: string; attribute: string; n: number }[]>`
      select username, attribute, count(*)::int as n from radius.radreply where tenant_id = ${tenant} group by username, attribute having count(*) > 1`;
    expect.soft(replyTwice.map((r) => `${r.username} ${r.attribute}: ${r.n}`), "radius.radreply: no attribute twice").toEqual([]);

    perSubscriber("olt.service_flows", await sql`select subscriber_id, count(*)::int as n from olt.service_flows where tenant_id = ${tenant} group by subscriber_id`);
    const onus = await sql<{ serial: string; n: number }[]>`
      select o.serial, count(f.serial)::int as n from olt.onus o left join olt.service_flows f on f.tenant_id = o.tenant_id and f.serial = o.serial
      where o.tenant_id = ${tenant} and o.state = 'active' group by o.serial`;
    expect.soft(onus.length, "olt.onus: active ONUs").toBe(orders);
    expect.soft(notOnce(onus, (r) => `service flows on ONU ${r.serial}`), "olt: one service flow per active ONU").toEqual([]);

    perSubscriber("billing.billing_services", await sql`select subscriber_id, count(*)::int as n from billing.billing_services where tenant_id = ${tenant} group by subscriber_id`);
    const periods = await sql<{ service_id: string; n: number }[]>`
      select service_id, count(*)::int as n from billing.plan_periods where tenant_id = ${tenant} group by service_id`;
    expect.soft(periods.length, "billing.plan_periods: billing services with a plan period").toBe(orders);
    expect.soft(notOnce(periods, (r) => `plan periods of ${r.service_id}`), "billing.plan_periods: one per billing service").toEqual([]);

    // Both remaining instances stop gracefully.
    const live = instances.filter(alive);
    expect(live.map((i) => i.label)).toEqual(["C", "D"]);
    for (const i of live) i.proc.child.kill("SIGTERM");
    for (const i of live) expect((await within(i.proc.exited, 60_000, () => `${i.label} to stop\n${i.proc.output()}`)).code).toBe(0);
  } catch (err) {
    console.error(`scale-out failed after ${Date.now() - t0} ms ${JSON.stringify(timings)}\n${logs()}`);
    throw err;
  }
}, 360_000);
