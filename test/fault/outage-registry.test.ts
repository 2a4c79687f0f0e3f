// The schema registry down when the services start (issue 8, fault tests): the local registry is
// stopped (infra/registry.sh), then the seven services start as separate processes. Each waits
// for it instead of exiting: every /readyz answers 503 naming the registry, and stays so for
// 20 s with no process exiting (no crash loop). The registry is started again; every service
// becomes ready, and a subscriber is provisioned, suspended and resumed. Then: every order has a
// terminal status, no service exited, nothing of the tenant and no valid event in a dead-letter
// topic, and the consistency checker finds the tenant whole.
// `npm run test:fault` (it stops the shared registry: only inside a run holding the integration lock).
import { afterAll, beforeAll, expect, it } from "vitest";
import { runId } from "../support/env.js";
import { allServices, clock, dlqMarks, faultOrder, openDesk, readyz, setupFaultTenant, sleep, startFleet, verdict, type Desk, type Fleet } from "../support/fault-run.js";
import { stop, untilStackHealthy, type Down } from "../support/outage.js";

const run = runId();
const tenant = `outr-${run}`;
const subscribers = 3;
const waitingMs = 20_000;
const serial = (i: number) => `OUTR${run.slice(-6).toUpperCase()}${String(i).padStart(3, "0")}`;
const t = clock();
let fleet: Fleet | undefined;
let desk: Desk | undefined;
let down: Down | undefined;
let marks: Map<string, bigint>;

beforeAll(async () => {
  marks = await dlqMarks();
  await setupFaultTenant(tenant, subscribers, serial);
}, 180_000);

afterAll(async () => {
  try {
    await down?.restore(); // the registry is never left down, whatever failed
  } finally {
    await desk?.close();
    await fleet?.stop();
    console.log(await untilStackHealthy(120_000));
  }
}, 300_000);

const states = () => Promise.all(allServices.map(async (n) => [n, await readyz(n)] as const));
const waitingForRegistry = (r: Awaited<ReturnType<typeof readyz>>) => r?.status === 503 && r.body.waiting_for === "schema registry";

it("the seven services started while the registry is down wait for it (503 naming it, no exit), then start and provision once it is back", async () => {
  down = await stop("registry");
  console.log(`${t()} registry stopped; starting the services`);
  fleet = startFleet(`registry-${run}`, t);
  const f = fleet;

  // Each gets through its migrations and then waits on the registry.
  for (const deadline = Date.now() + 120_000; !(await states()).every(([, r]) => waitingForRegistry(r)); await sleep(500)) {
    if (Date.now() > deadline) throw new Error(`not every service waits for the registry: ${(await states()).map(([n, r]) => `${n} ${r ? `${r.status} ${JSON.stringify(r.body)}` : "no answer"}`).join("; ")}`);
    expect(f.exits, "service processes that exited while waiting for the registry").toEqual([]);
  }
  console.log(`${t()} all seven answer 503 waiting for the schema registry`);
  // And keep waiting, alive: no crash loop.
  for (const until = Date.now() + waitingMs; Date.now() < until; await sleep(1_000)) {
    const now = await states();
    expect(now.filter(([, r]) => !waitingForRegistry(r)).map(([n, r]) => `${n} ${JSON.stringify(r)}`), "services not answering 503 for the registry").toEqual([]);
    expect(f.exits, "service processes that exited while waiting for the registry").toEqual([]);
  }
  expect([...f.children.values()].filter((c) => c.exitCode !== null || c.signalCode !== null)).toEqual([]);
  const body = (await readyz("subscriber"))?.body;
  console.log(`${t()} still waiting after ${waitingMs / 1000} s, every process alive; subscriber's /readyz: ${JSON.stringify(body)}`);
  expect(body?.checks?.started).toBe(false);

  console.log(`${t()} starting the registry`);
  await down.restore();
  console.log(`${t()} registry back; waiting for the services`);
  await f.untilReady(120_000);
  console.log(`${t()} every service ready`);

  desk = await openDesk(tenant, `registry-${run}`, t);
  const d = desk;
  await Promise.all(
    Array.from({ length: subscribers }, async (_, i) => {
      const id = await d.provision(faultOrder(run, i, serial));
      expect(id, `provision ${i}`).not.toBeNull();
      if (!id) return;
      expect(await d.step("suspend", `${run}-${i}`, id)).toBe(true);
      expect(await d.step("resume", `${run}-${i}`, id)).toBe(true);
    }),
  );
  await verdict({ tenant, desk: d, fleet: f, marks, t });
}, 420_000);
