// The Kafka broker restarted in the middle of a run (issue 8, fault tests): the seven services as
// separate processes; the CRM (scripts/crm.ts) provisions 40 subscribers of a fresh tenant, one
// every half second, and takes each through suspend and resume; once the first outcomes are in,
// the local broker (KRaft, one node) is stopped, left down for 10 s and started again, the way
// infra/stack.sh does. Orders placed while it is down wait in the CRM's publisher and go out once
// it is back. Then: every order has a terminal status, no service exited, nothing of the tenant
// and no valid event in a dead-letter topic, and the consistency checker finds the tenant whole.
// `npm run test:fault` (it restarts the shared broker: only inside a run holding the integration lock).
import { afterAll, beforeAll, expect, it } from "vitest";
import { runId } from "../support/env.js";
import { allServices, clock, dlqMarks, faultOrder, openDesk, readyz, setupFaultTenant, sleep, startFleet, verdict, type Desk, type Fleet } from "../support/fault-run.js";
import { stop, untilStackHealthy, type Down } from "../support/outage.js";

const run = runId();
const tenant = `outk-${run}`;
const subscribers = 40;
const serial = (i: number) => `OUTK${run.slice(-6).toUpperCase()}${String(i).padStart(3, "0")}`;
const t = clock();
let fleet: Fleet | undefined;
let desk: Desk | undefined;
let down: Down | undefined;
let marks: Map<string, bigint>;

beforeAll(async () => {
  marks = await dlqMarks();
  await setupFaultTenant(tenant, subscribers, serial);
  fleet = startFleet(`kafka-${run}`, t);
  await fleet.untilReady(120_000);
  desk = await openDesk(tenant, `kafka-${run}`, t);
}, 180_000);

afterAll(async () => {
  try {
    await down?.restore(); // the broker is never left down, whatever failed
  } finally {
    await desk?.close();
    await fleet?.stop();
    console.log(await untilStackHealthy(120_000));
  }
}, 300_000);

async function life(d: Desk, i: number): Promise<void> {
  await sleep(i * 500);
  const id = await d.provision(faultOrder(run, i, serial));
  if (!id) return;
  if (!(await d.step("suspend", `${run}-${i}`, id))) return;
  await d.step("resume", `${run}-${i}`, id);
}

it(`${subscribers} subscribers provisioned, suspended and resumed while the broker restarts: every order ends, nothing is lost or dead-lettered, the stores agree`, async () => {
  if (!desk || !fleet) throw new Error("set-up failed");
  const d = desk;
  const lives = Promise.all(Array.from({ length: subscribers }, (_, i) => life(d, i)));
  const provisioned = () => [...d.tally].filter(([k]) => k.startsWith("provision")).reduce((n, [, c]) => n + c, 0);
  for (const deadline = Date.now() + 120_000; provisioned() < 6; await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`only ${provisioned()} provisions answered after 120 s: ${d.stuck.join("; ")}`);
  }

  console.log(`${t()} ${provisioned()} provisions answered, ${d.placed.length} orders placed: stopping the broker`);
  let downFrom = 0;
  let upAt = 0;
  const during: string[] = [];
  try {
    down = await stop("kafka");
    downFrom = Date.now();
    console.log(`${t()} broker stopped`);
    for (let s = 0; s < 10; s++) {
      await sleep(1_000);
      const states = await Promise.all(allServices.map(async (n) => `${n} ${(await readyz(n))?.status ?? "no answer"}`));
      if (s % 3 === 0) during.push(`${t()} /readyz: ${states.join(", ")}`);
    }
  } finally {
    console.log(`${t()} starting the broker again`);
    await down?.restore();
    upAt = Date.now();
  }
  console.log(`${t()} broker back and the stack healthy\n${during.join("\n")}`);

  await lives;
  console.log(`${t()} every order answered or given up on (${d.stuck.length} without a terminal status)`);
  await fleet.untilReady(120_000);

  // The CRM rode through: orders placed while the broker was away were published once it was back.
  const waited = d.placements.filter((p) => p.from >= downFrom && p.from < upAt);
  console.log(`${t()} ${waited.length} orders placed while the broker was down; they waited ${waited.map((p) => ((p.to - p.from) / 1000).toFixed(1)).join(", ")} s`);
  expect(waited.length).toBeGreaterThan(0);
  await verdict({ tenant, desk: d, fleet, marks, t });
}, 540_000);
