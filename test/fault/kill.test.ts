// kill -9 under load: the seven services as separate processes; a CRM provisions 300 subscribers
// of a fresh tenant and takes each through suspend, resume and (two in three) terminate, while a
// random service is killed with SIGKILL at random moments, at least 20 times while orders are in
// flight, and started again each time. Afterwards every order has a terminal status, no event of
// the tenant was dead-lettered, and the consistency checker finds the tenant consistent.
// `npm run test:fault` (the vitest project "fault", not part of npm test): about 4 minutes on the
// two-core development machine, most of it the kills' restarts.
import type { ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import type { Consumer } from "kafkajs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm } from "../../scripts/crm.js";
import { servicePorts, startServices, type ServiceName } from "../../scripts/run-services.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { readHistory } from "../../shared/history.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { settledCheck } from "../support/checker.js";
import { runId, testEnv } from "../support/env.js";
import { header, testKafka } from "../support/kafka.js";
import { testCodec } from "../support/watch.js";

const run = runId();
const tenant = `kill-${run}`;
const subscribers = 300;
const minKills = 20;
/** Provision orders per second: spreads the work over the time the kills take. */
const provisionRate = 2.5;
/** An order with no outcome after this long is reported as stuck (the deadlines are 120 s). */
const outcomeTimeoutMs = 240_000;
const serial = (i: number) => `KILL${run.slice(-6).toUpperCase()}${String(i).padStart(4, "0")}`;
const started = Date.now();
const t = () => `t+${((Date.now() - started) / 1000).toFixed(1)}s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const allServices = Object.keys(servicePorts) as ServiceName[];

// ---- the services, one process each, restartable one by one ----------------------------------

const children = new Map<ServiceName, ChildProcess>();
const start = (name: ServiceName) => {
  const child = startServices([name], { ...testEnv }, true).children.get(name);
  if (!child) throw new Error(`${name} did not start`);
  children.set(name, child);
};

async function ready(name: ServiceName): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${servicePorts[name]}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

async function untilReady(names: readonly ServiceName[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.all(names.map(ready))).every(Boolean)) {
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${names.join(", ")}`);
    await sleep(200);
  }
}

const stopAll = () =>
  Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
        }),
    ),
  );

// ---- the CRM: orders out, outcomes in ----------------------------------------------------------

type Outcome = Message<"OrderCompleted"> | Message<"OrderFailed"> | Message<"OrderRejected">;
const outcomes = new Map<string, Outcome>();
const waiting = new Map<string, (o: Outcome) => void>();
let crm: Crm;
let statusConsumer: Consumer;

async function watchOutcomes(): Promise<void> {
  const admin = testKafka.admin();
  await admin.connect();
  const marks = await admin.fetchTopicOffsets(topics.orderStatus);
  await admin.disconnect();
  statusConsumer = testKafka.consumer({ groupId: `kill-crm-${run}`, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
  await statusConsumer.connect();
  await statusConsumer.subscribe({ topic: topics.orderStatus, fromBeginning: true });
  await statusConsumer.run({
    eachMessage: async ({ message }) => {
      if (header(message, "tenant-id") !== tenant) return;
      const m = (await testCodec.decode(message.value)).message;
      if (m.type !== "OrderCompleted" && m.type !== "OrderFailed" && m.type !== "OrderRejected") return;
      if (outcomes.has(m.data.order_id)) return;
      outcomes.set(m.data.order_id, m);
      waiting.get(m.data.order_id)?.(m);
    },
  });
  for (const m of marks) statusConsumer.seek({ topic: topics.orderStatus, partition: m.partition, offset: m.high });
}

const stuck: string[] = [];
const unexpected: string[] = [];
const tally = new Map<string, number>();
const count = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);

/** Places the order and waits for its outcome; null (and the order reported as stuck) when none comes. */
async function place(m: Message, orderId: string): Promise<Outcome | null> {
  const outcome = new Promise<Outcome>((resolve) => {
    const known = outcomes.get(orderId);
    if (known) resolve(known);
    else waiting.set(orderId, resolve);
  });
  await crm.place(m);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), outcomeTimeoutMs)));
  const o = await Promise.race([outcome, timeout]);
  clearTimeout(timer);
  waiting.delete(orderId);
  if (!o) stuck.push(`${t()} ${m.type} ${orderId} (subscriber ${m.meta.subscriber_id ?? "new"}): no outcome within ${outcomeTimeoutMs / 1000} s`);
  return o;
}

type Step = "suspend" | "resume" | "terminate";
const lifecycle = (step: Step, orderId: string, subscriberId: string): Message =>
  step === "suspend"
    ? lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: orderId, subscriber_id: subscriberId, reason: "fault test" })
    : step === "resume"
      ? lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: orderId, subscriber_id: subscriberId })
      : lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: orderId, subscriber_id: subscriberId, reason: "fault test" });

/**
 * A step retried as a CRM would: an order rejected because another of the subscriber's orders
 * is still in flight (operation_in_progress, provisioning_in_flight) is placed again, under a new
 * order id, after a pause. Returns whether the step completed.
 */
async function step(step: Step, i: number, subscriberId: string): Promise<boolean> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const orderId = `${step}-${run}-${i}-${attempt}`;
    const o = await place(lifecycle(step, orderId, subscriberId), orderId);
    if (!o) return false;
    count(`${step} ${o.type}`);
    if (o.type === "OrderCompleted") return true;
    const codes = o.type === "OrderRejected" ? o.data.reasons.map((r) => r.code) : [o.data.code ?? ""];
    if (o.type === "OrderRejected" && codes.every((c) => c === "operation_in_progress" || c === "provisioning_in_flight")) {
      await sleep(1_000 + randomInt(2_000));
      continue;
    }
    unexpected.push(`${t()} ${step} ${orderId} of ${subscriberId}: ${o.type} ${JSON.stringify(o.data)}`);
    return false;
  }
  unexpected.push(`${step} of ${subscriberId}: still rejected after 20 attempts`);
  return false;
}

async function life(i: number): Promise<void> {
  await sleep((i * 1000) / provisionRate);
  const orderId = `prov-${run}-${i}`;
  const o = await place(
    provisionOrder(tenant, {
      order_id: orderId,
      crm_reference: `crm-${run}-${i}`,
      first_name: "Kill",
      last_name: `Nine ${i}`,
      email: `k${i}@example.com`,
      service_address: `${i} Crash Street`,
      connection_type: "ftth",
      service_plan_id: "home-100",
      onu_serial: serial(i),
      service_vlan: 400 + Math.floor(i / 4000),
      inner_vlan: 1 + (i % 4000),
      qinq_enabled: true,
      ipv6_assignment_mode: "dual_stack",
      ipv6_pd_size: 56,
    }),
    orderId,
  );
  if (!o) return;
  count(`provision ${o.type}`);
  if (o.type !== "OrderCompleted") {
    unexpected.push(`${t()} provision ${orderId}: ${o.type} ${JSON.stringify(o.data)}`);
    return;
  }
  const id = o.data.subscriber_id;
  if (!(await step("suspend", i, id))) return;
  if (!(await step("resume", i, id))) return;
  if (i % 3 !== 0) await step("terminate", i, id);
}

// ---- the killer ---------------------------------------------------------------------------------

interface Kill {
  readonly at: string;
  readonly name: ServiceName;
  readonly pid: number;
  readyAfter?: number;
}
const kills: Kill[] = [];

/**
 * Every 2 to 5 s, SIGKILL a random running service and start it again after up to a second. A
 * service still starting is not picked, but another may be killed meanwhile: two can be down at
 * once. Goes on until `until()` and at least `minKills` kills.
 */
async function killer(until: () => boolean): Promise<void> {
  const restarting = new Map<ServiceName, Promise<void>>();
  while (kills.length < minKills || !until()) {
    await sleep(2_000 + randomInt(3_000));
    const candidates = allServices.filter((n) => !restarting.has(n));
    const name = candidates[randomInt(candidates.length)];
    const victim = name ? children.get(name) : undefined;
    if (!name || !victim?.pid) continue;
    const exited = new Promise((r) => victim.once("exit", r));
    victim.kill("SIGKILL");
    await exited;
    const kill: Kill = { at: t(), name, pid: victim.pid };
    kills.push(kill);
    console.log(`${kill.at} kill -9 ${name} (pid ${victim.pid})`);
    const killedAt = Date.now();
    await sleep(randomInt(1_000)); // dead for a moment, as after a crash
    start(name);
    restarting.set(
      name,
      untilReady([name], 120_000).then(() => {
        kill.readyAfter = (Date.now() - killedAt) / 1000;
        restarting.delete(name);
      }),
    );
  }
  await Promise.all(restarting.values());
}

/** The records of this tenant in the services' dead-letter topics. */
async function deadLetters(): Promise<string[]> {
  const out: string[] = [];
  await readHistory(testKafka, allServices.map(dlqTopic), (r) => {
    if (r.headers["tenant-id"] === tenant) out.push(`${r.topic}: ${r.headers["event-type"] ?? "?"} ${r.headers["dlq-code"] ?? ""} ${r.headers["dlq-reason"] ?? ""}`);
  });
  return out;
}

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [{ planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 }],
      pools: [
        { name: "v4", kind: "ipv4", cidr: "100.72.0.0/22", gateway: "100.72.0.1", isDefault: true },
        { name: "v6", kind: "ipv6", cidr: "2001:db8:72::/64", gateway: "2001:db8:72::1", isDefault: true },
        { name: "pd", kind: "ipv6_pd", cidr: "2001:db8:7200::/40", delegatedLength: 56, isDefault: true },
      ],
      olts: [{ oltId: "olt-1", name: "OLT", onus: Array.from({ length: subscribers }, (_, i) => ({ port: `0/${1 + (i >> 7)}/${i & 127}`, serial: serial(i) })) }],
    },
  ]);
  for (const name of allServices) start(name);
  await untilReady(allServices, 120_000);
  crm = await connectCrm(testEnv);
  await watchOutcomes();
}, 180_000);

afterAll(async () => {
  await statusConsumer?.disconnect();
  await crm?.close();
  await stopAll();
});

it(`${subscribers} subscribers provisioned, suspended, resumed and terminated while services are killed -9 at least ${minKills} times: every order ends, the stores are consistent`, async () => {
  let done = false;
  const killing = killer(() => done);
  await Promise.all(Array.from({ length: subscribers }, (_, i) => life(i)));
  done = true;
  const during = kills.length;
  console.log(`${t()} every order answered, ${during} kills meanwhile; outcomes: ${[...tally].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  await killing;
  console.log(kills.map((k) => `${k.at} kill -9 ${k.name} (pid ${k.pid}), ready again after ${k.readyAfter?.toFixed(1) ?? "?"} s`).join("\n"));
  await untilReady(allServices, 120_000);

  const check = await settledCheck(tenant, 120_000);
  console.log(`${t()} consistency checker (exit ${check.code}):\n${check.out}`);
  const dead = await deadLetters();
  expect(during).toBeGreaterThanOrEqual(minKills);
  expect(stuck, "orders without a terminal status").toEqual([]);
  expect(unexpected, "orders that failed or were rejected for another reason than an order in flight").toEqual([]);
  expect(dead, "dead letters of the tenant").toEqual([]);
  expect(check.code).toBe(0);
  expect(check.out).not.toContain("IN FLIGHT");
}, 540_000);
