// What the outage tests (test/fault/outage-*.test.ts) share: the seven services as separate
// processes with every exit counted and their warnings kept in a log file; a CRM desk that places
// orders with scripts/crm.ts and waits for each order's terminal status, retrying as a CRM would
// an order refused because another of the subscriber's orders is in flight; the dead letters
// written since the test began; and the verdict every outage test ends with.
import type { ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel, type Consumer } from "kafkajs";
import { expect } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { repoRoot, servicePorts, startServices, type ServiceName } from "../../scripts/run-services.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { readHistory } from "../../shared/history.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { settledCheck } from "./checker.js";
import { testEnv } from "./env.js";
import { header } from "./kafka.js";

export const allServices = Object.keys(servicePorts) as ServiceName[];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds since `start`, for the timeline lines the tests print. */
export const clock = (start = Date.now()) => () => `t+${((Date.now() - start) / 1000).toFixed(1)}s`;

// ---- the tenant ------------------------------------------------------------------------------------

/** A fresh tenant: one plan, dual-stack pools with delegated /56s, an OLT with `onus` discovered ONUs. */
export async function setupFaultTenant(tenant: string, onus: number, serial: (i: number) => string): Promise<void> {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [{ planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 }],
      pools: [
        { name: "v4", kind: "ipv4", cidr: "100.90.0.0/24", gateway: "100.90.0.1", isDefault: true },
        { name: "v6", kind: "ipv6", cidr: "2001:db8:90::/64", gateway: "2001:db8:90::1", isDefault: true },
        { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:9000::/40", delegatedLength: 56, isDefault: true },
      ],
      olts: [{ oltId: "olt-1", name: "OLT", onus: Array.from({ length: onus }, (_, i) => ({ port: `0/1/${i}`, serial: serial(i) })) }],
    },
  ]);
}

/** The i-th provisioning order of a run: an FTTH line with QinQ, dual stack and a /56. */
export const faultOrder = (run: string, i: number, serial: (i: number) => string): ProvisionOrder => ({
  order_id: `prov-${run}-${i}`,
  crm_reference: `crm-${run}-${i}`,
  first_name: "Outage",
  last_name: `Test ${i}`,
  email: `o${i}@example.com`,
  service_address: `${i} Outage Street`,
  connection_type: "ftth",
  service_plan_id: "home-100",
  onu_serial: serial(i),
  service_vlan: 500,
  inner_vlan: 1 + i,
  qinq_enabled: true,
  ipv6_assignment_mode: "dual_stack",
  ipv6_pd_size: 56,
});

// ---- the services --------------------------------------------------------------------------------

export interface Readyz {
  readonly status: number;
  readonly body: { checks?: Record<string, boolean>; waiting_for?: string };
}

export async function readyz(name: ServiceName): Promise<Readyz | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${servicePorts[name]}/readyz`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as Readyz["body"] };
  } catch {
    return null;
  }
}

export interface Fleet {
  /** Every exit of a service process the test did not ask for, with its code or signal. */
  readonly exits: string[];
  readonly children: ReadonlyMap<string, ChildProcess>;
  /** Where each service's output (LOG_LEVEL warn: waits, retries, errors) is written. */
  readonly logDir: string;
  untilReady(timeoutMs: number): Promise<void>;
  /** SIGTERM to each, SIGKILL to any still running 30 s later; returns those (a shutdown that hangs). */
  stop(): Promise<string[]>;
}

/**
 * Starts the seven services, one process each (scripts/run-services.ts, as `npm run services`),
 * on their fixed ports. Does not wait for them: `untilReady` does.
 */
export function startFleet(label: string, t: () => string): Fleet {
  const logDir = join(repoRoot, ".stack/logs/faults", label);
  mkdirSync(logDir, { recursive: true });
  const running = startServices(allServices, { ...testEnv, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn" }, true);
  const exits: string[] = [];
  const files: WriteStream[] = [];
  let stopping = false;
  let stopped: Promise<string[]> | undefined;
  for (const [name, child] of running.children) {
    const file = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
    files.push(file);
    child.stdout?.on("data", (d: Buffer) => file.write(d));
    child.stderr?.on("data", (d: Buffer) => file.write(d));
    child.once("exit", (code, signal) => {
      if (!stopping) exits.push(`${t()} ${name} (pid ${child.pid}) exited with ${code ?? signal}; its output: ${join(logDir, `${name}.log`)}`);
    });
  }
  return {
    exits,
    children: running.children,
    logDir,
    async untilReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(allServices.map(async (n) => [n, await readyz(n)] as const));
        const notReady = states.filter(([, r]) => r?.status !== 200);
        if (notReady.length === 0) return;
        if (Date.now() > deadline) {
          throw new Error(`not ready after ${timeoutMs} ms: ${notReady.map(([n, r]) => `${n} ${r ? `${r.status} ${JSON.stringify(r.body)}` : "no answer"}`).join("; ")}`);
        }
        await sleep(250);
      }
    },
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
  async function stopAll(): Promise<string[]> {
    stopping = true;
    const hung: string[] = [];
    await Promise.all(
      [...running.children].map(
        ([name, c]) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              hung.push(`${t()} ${name} (pid ${c.pid}) still running 30 s after SIGTERM: killed; its output: ${join(logDir, `${name}.log`)}`);
              c.kill("SIGKILL");
            }, 30_000);
            c.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill("SIGTERM");
          }),
      ),
    );
    await Promise.all(files.map((f) => new Promise((r) => f.end(r))));
    return hung;
  }
}

// ---- the CRM desk --------------------------------------------------------------------------------

export type Outcome = Message<"OrderCompleted"> | Message<"OrderFailed"> | Message<"OrderRejected">;
type Step = "suspend" | "resume";

export interface Desk {
  readonly crm: Crm;
  /** Order id → terminal status. */
  readonly outcomes: ReadonlyMap<string, Outcome>;
  /** Every order placed, in the order placed. */
  readonly placed: string[];
  /** Each `crm.place` call: when it started and ended (epoch ms). */
  readonly placements: { readonly orderId: string; readonly from: number; readonly to: number }[];
  /** Orders with no terminal status within the outcome timeout. */
  readonly stuck: string[];
  /** Outcome counts by "kind type", e.g. "provision OrderCompleted". */
  readonly tally: Map<string, number>;
  /** Outcomes that are neither a completion nor a CRM-retryable rejection (reported, judged by the test). */
  readonly others: string[];
  /** Places the order and waits for its terminal status; null (and the order listed as stuck) when none comes. */
  place(m: Message, orderId: string): Promise<Outcome | null>;
  /** Provisions and returns the subscriber id when the order completed. */
  provision(order: ProvisionOrder): Promise<string | null>;
  /** A suspend or resume, placed again under a new order id while the subscriber has another order in flight. */
  step(step: Step, key: string, subscriberId: string): Promise<boolean>;
  close(): Promise<void>;
}

const retryable = new Set(["operation_in_progress", "provisioning_in_flight"]);

/**
 * The test's CRM: scripts/crm.ts's publisher (it rides through a broker restart), and a consumer of
 * crm.order-status.v1 from the topic's end at the start (its group's offsets are set there before
 * it joins, so a restart of the consumer never reads the topic's history), keeping the terminal
 * statuses of `tenant`'s orders. Its Kafka client retries long enough to outlive a broker restart.
 */
export async function openDesk(tenant: string, label: string, t: () => string, outcomeTimeoutMs = 200_000): Promise<Desk> {
  const crm = await connectCrm({ ...process.env, ...testEnv, LOG_LEVEL: "fatal" });
  // Every schema id known before any outage: the desk itself never needs the registry (nor the
  // PostgreSQL it stores in) again.
  await crm.codec.registerAll();
  const kafka = new Kafka({
    clientId: `fault-desk-${label}`,
    brokers: testEnv.KAFKA_BROKERS.split(","),
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, retries: 30, maxRetryTime: 5_000 },
  });
  const groupId = `fault-desk-${label}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const marks = await admin.fetchTopicOffsets(topics.orderStatus);
    await admin.setOffsets({ groupId, topic: topics.orderStatus, partitions: marks.map((m) => ({ partition: m.partition, offset: m.high })) });
  } finally {
    await admin.disconnect();
  }
  const outcomes = new Map<string, Outcome>();
  const waiting = new Map<string, (o: Outcome) => void>();
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
  consumer.on(consumer.events.CRASH, (e) => console.log(`${t()} desk: status consumer crashed (${String(e.payload.error)}), restart: ${e.payload.restart}`));
  await consumer.connect();
  await consumer.subscribe({ topic: topics.orderStatus });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (header(message, "tenant-id") !== tenant) return;
      const m = (await crm.codec.decode(message.value)).message;
      if (m.type !== "OrderCompleted" && m.type !== "OrderFailed" && m.type !== "OrderRejected") return;
      if (outcomes.has(m.data.order_id)) return; // a relay's repeat (same event id)
      outcomes.set(m.data.order_id, m);
      waiting.get(m.data.order_id)?.(m);
    },
  });

  const placed: string[] = [];
  const placements: Desk["placements"] = [];
  const stuck: string[] = [];
  const others: string[] = [];
  const tally = new Map<string, number>();
  const count = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);

  async function place(m: Message, orderId: string): Promise<Outcome | null> {
    const outcome = new Promise<Outcome>((resolve) => {
      const known = outcomes.get(orderId);
      if (known) resolve(known);
      else waiting.set(orderId, resolve);
    });
    placed.push(orderId);
    const from = Date.now();
    await crm.place(m);
    placements.push({ orderId, from, to: Date.now() });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), outcomeTimeoutMs)));
    const o = await Promise.race([outcome, timeout]);
    clearTimeout(timer);
    waiting.delete(orderId);
    if (!o) stuck.push(`${t()} ${m.type} ${orderId} (subscriber ${m.meta.subscriber_id ?? "new"}): no terminal status within ${outcomeTimeoutMs / 1000} s`);
    return o;
  }

  return {
    crm,
    outcomes,
    placed,
    placements,
    stuck,
    tally,
    others,
    place,
    async provision(order) {
      const o = await place(provisionOrder(tenant, order), order.order_id);
      if (!o) return null;
      count(`provision ${o.type}`);
      if (o.type === "OrderCompleted") return o.data.subscriber_id;
      others.push(`${t()} provision ${order.order_id}: ${o.type} ${JSON.stringify(o.data)}`);
      return null;
    },
    async step(step, key, subscriberId) {
      for (let attempt = 1; attempt <= 20; attempt++) {
        const orderId = `${step}-${key}-${attempt}`;
        const m =
          step === "suspend"
            ? lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: orderId, subscriber_id: subscriberId, reason: "outage test" })
            : lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: orderId, subscriber_id: subscriberId });
        const o = await place(m, orderId);
        if (!o) return false;
        count(`${step} ${o.type}`);
        if (o.type === "OrderCompleted") return true;
        if (o.type === "OrderRejected" && o.data.reasons.every((r) => retryable.has(r.code))) {
          await sleep(1_000 + randomInt(2_000));
          continue;
        }
        others.push(`${t()} ${step} ${orderId} of ${subscriberId}: ${o.type} ${JSON.stringify(o.data)}`);
        return false;
      }
      others.push(`${step} of ${subscriberId}: still refused after 20 attempts`);
      return false;
    },
    async close() {
      await consumer.disconnect().catch(() => undefined);
      await crm.close().catch(() => undefined);
      const cleanup = kafka.admin();
      await cleanup.connect().catch(() => undefined);
      await cleanup.deleteGroups([groupId]).catch(() => undefined);
      await cleanup.disconnect().catch(() => undefined);
    },
  };
}

// ---- dead letters --------------------------------------------------------------------------------

const dlqKafka = () => new Kafka({ clientId: "fault-dlq", brokers: testEnv.KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING });

/** The end offsets of every service's dead-letter topic ("topic/partition" → offset). */
export async function dlqMarks(): Promise<Map<string, bigint>> {
  const admin = dlqKafka().admin();
  await admin.connect();
  try {
    const marks = new Map<string, bigint>();
    for (const name of allServices) {
      for (const p of await admin.fetchTopicOffsets(dlqTopic(name))) marks.set(`${dlqTopic(name)}/${p.partition}`, BigInt(p.high));
    }
    return marks;
  } finally {
    await admin.disconnect();
  }
}

/**
 * The dead letters written since `marks` that no outage may cause: any of `tenant` (the test
 * sends no poison) and any `retries-exhausted` (a valid event given up on), whoever's.
 */
export async function deadLettersSince(marks: ReadonlyMap<string, bigint>, tenant: string): Promise<string[]> {
  const out: string[] = [];
  await readHistory(dlqKafka(), allServices.map(dlqTopic), (r) => {
    if (r.offset < (marks.get(`${r.topic}/${r.partition}`) ?? 0n)) return;
    const h = r.headers;
    if (h["tenant-id"] !== tenant && h["dlq-code"] !== "retries-exhausted") return;
    out.push(
      `${r.topic}/${r.partition}@${r.offset}: ${h["event-type"] ?? "?"} of tenant ${h["tenant-id"] ?? "?"} from ${h["dlq-origin-topic"] ?? "?"}/${h["dlq-origin-partition"] ?? "?"}@${h["dlq-origin-offset"] ?? "?"}: ${h["dlq-code"] ?? ""} ${h["dlq-reason"] ?? ""}`,
    );
  });
  return out;
}

// ---- diagnostics -------------------------------------------------------------------------------------

/**
 * Evidence for a stall: each service's /readyz and its consumer group (state, members, and how far
 * its committed offsets are behind each topic's end).
 */
export async function groupsReport(): Promise<string> {
  const kafka = dlqKafka();
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topicsOf = (name: ServiceName) => (name === "subscriber" ? [topics.crmOrders, topics.lifecycle] : [topics.lifecycle]);
    const ends = new Map<string, { partition: number; high: string }[]>();
    for (const topic of [topics.crmOrders, topics.lifecycle]) ends.set(topic, await admin.fetchTopicOffsets(topic));
    const { groups } = await admin.describeGroups([...allServices]);
    const lines: string[] = [];
    for (const name of allServices) {
      const g = groups.find((x) => x.groupId === name);
      const lag: string[] = [];
      for (const o of await admin.fetchOffsets({ groupId: name, topics: topicsOf(name) })) {
        for (const p of o.partitions) {
          const high = BigInt(ends.get(o.topic)?.find((e) => e.partition === p.partition)?.high ?? "0");
          const behind = high - BigInt(p.offset === "-1" ? "0" : p.offset);
          if (behind > 0n) lag.push(`${o.topic}/${p.partition} ${behind}`);
        }
      }
      const r = await readyz(name);
      lines.push(
        `  ${name}: /readyz ${r ? `${r.status} ${JSON.stringify(r.body)}` : "no answer"}; group ${g?.state ?? "?"}, ${g?.members.length ?? 0} members (${g?.members.map((m) => m.clientId).join(", ") ?? ""}); behind: ${lag.join(", ") || "nothing"}`,
      );
    }
    return lines.join("\n");
  } finally {
    await admin.disconnect();
  }
}

// ---- the verdict -----------------------------------------------------------------------------------

/**
 * Every outage test ends with this: every order placed has a terminal status, no service process
 * exited, nothing of the tenant (and nothing given up on) in a dead-letter topic since the test
 * began, `npm run consistency -- --tenant T` passes once nothing is in flight, and every service
 * then stops on SIGTERM (the services are stopped by it).
 */
export async function verdict(v: { tenant: string; desk: Desk; fleet: Fleet; marks: ReadonlyMap<string, bigint>; t: () => string }): Promise<void> {
  const check = await settledCheck(v.tenant, 120_000);
  const dead = await deadLettersSince(v.marks, v.tenant);
  const unanswered = v.desk.placed.filter((id) => !v.desk.outcomes.has(id));
  if (v.desk.stuck.length > 0 || unanswered.length > 0) console.log(`${v.t()} orders without a terminal status; the services now:\n${await groupsReport()}`);
  // Last, each service stops as on SIGTERM in production: within 30 s, losing nothing.
  const hung = await v.fleet.stop();
  console.log(
    [
      `${v.t()} verdict for ${v.tenant}: ${v.desk.placed.length} orders placed, ${v.desk.outcomes.size} with a terminal status`,
      `  outcomes: ${[...v.desk.tally].map(([k, n]) => `${k} ${n}`).join(", ")}`,
      ...v.desk.others.map((o) => `  other outcome: ${o}`),
      `  service exits: ${v.fleet.exits.length}; shutdowns that hung: ${hung.length}; dead letters: ${dead.length}; checker exit ${check.code}`,
      check.out.trimEnd(),
    ].join("\n"),
  );
  expect.soft(v.desk.stuck, "orders with no terminal status").toEqual([]);
  expect.soft(unanswered, "orders placed whose terminal status never came").toEqual([]);
  expect.soft(v.fleet.exits, "service processes that exited").toEqual([]);
  expect.soft(hung, "services that did not stop on SIGTERM").toEqual([]);
  expect.soft(dead, "dead letters of the tenant, or of a valid event given up on").toEqual([]);
  expect.soft(check.out, "the consistency checker still sees work in flight").not.toContain("IN FLIGHT");
  expect(check.code, `npm run consistency -- --tenant ${v.tenant}:\n${check.out}`).toBe(0);
}
