// PostgreSQL stopped for 60 s in the middle of a run (issue 8, fault tests), far longer than the
// retry bound that once sent a message to the DLQ when its handling kept failing: the seven
// services as separate processes; the CRM provisions 30 subscribers of a fresh tenant, one every
// half second, and takes each through suspend and resume; once the first outcomes are in, the
// machine's PostgreSQL cluster is stopped (pg_ctlcluster), left down for 60 s and started again.
// The services wait (partitions paused, /readyz 503) instead of dead-lettering or exiting; the
// registry, which keeps its schemas there, and FreeRADIUS come back with it. Then: every order has
// a terminal status, no service exited, nothing of the tenant and no valid event in a dead-letter
// topic, the consistency checker finds the tenant whole, and FreeRADIUS answers from its SQL again.
// `npm run test:fault` (it stops the shared PostgreSQL: only inside a run holding the integration lock).
import { afterAll, beforeAll, expect, it } from "vitest";
import { authenticate } from "../../scripts/radclient.js";
import { runId } from "../support/env.js";
import { allServices, clock, dlqMarks, faultOrder, groupsReport, openDesk, readyz, setupFaultTenant, sleep, startFleet, verdict, type Desk, type Fleet } from "../support/fault-run.js";
import { stop, untilStackHealthy, type Down } from "../support/outage.js";
import { getJson } from "../support/services.js";
import { tokenFor } from "../support/tokens.js";

const run = runId();
const tenant = `outp-${run}`;
const subscribers = 30;
const outageMs = 60_000;
const serial = (i: number) => `OUTP${run.slice(-6).toUpperCase()}${String(i).padStart(3, "0")}`;
const t = clock();
let fleet: Fleet | undefined;
let desk: Desk | undefined;
let down: Down | undefined;
let marks: Map<string, bigint>;
let token: string;

beforeAll(async () => {
  marks = await dlqMarks();
  await setupFaultTenant(tenant, subscribers, serial);
  token = await tokenFor(tenant);
  fleet = startFleet(`postgres-${run}`, t);
  await fleet.untilReady(120_000);
  desk = await openDesk(tenant, `postgres-${run}`, t);
}, 180_000);

afterAll(async () => {
  try {
    await down?.restore(); // PostgreSQL is never left down, whatever failed
  } finally {
    await desk?.close();
    await fleet?.stop();
    console.log(await untilStackHealthy(120_000));
  }
}, 300_000);

const active = new Set<string>();

async function life(d: Desk, i: number): Promise<void> {
  await sleep(i * 500);
  const id = await d.provision(faultOrder(run, i, serial));
  if (!id) return;
  if (!(await d.step("suspend", `${run}-${i}`, id))) return;
  if (await d.step("resume", `${run}-${i}`, id)) active.add(id);
}

it(`${subscribers} subscribers provisioned, suspended and resumed while PostgreSQL is down for ${outageMs / 1000} s: every order ends, nothing is dead-lettered, the stores agree`, async () => {
  if (!desk || !fleet) throw new Error("set-up failed");
  const d = desk;
  const lives = Promise.all(Array.from({ length: subscribers }, (_, i) => life(d, i)));
  const provisioned = () => [...d.tally].filter(([k]) => k.startsWith("provision")).reduce((n, [, c]) => n + c, 0);
  for (const deadline = Date.now() + 120_000; provisioned() < 6; await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`only ${provisioned()} provisions answered after 120 s: ${d.stuck.join("; ")}`);
  }

  console.log(`${t()} ${provisioned()} provisions answered, ${d.placed.length} orders placed: stopping PostgreSQL`);
  const during: string[] = [];
  const notWaiting: string[] = [];
  let answeredBefore = 0;
  let answeredDuring = 0;
  try {
    down = await stop("postgres");
    answeredBefore = d.outcomes.size;
    console.log(`${t()} PostgreSQL stopped`);
    const until = Date.now() + outageMs;
    for (let s = 0; Date.now() < until; s++) {
      await sleep(Math.min(5_000, until - Date.now()));
      // Each service says it is not ready, at once: every /readyz answers 503.
      const states = await Promise.all(allServices.map(async (n) => [n, await readyz(n)] as const));
      for (const [n, r] of states) if (r?.status !== 503) notWaiting.push(`${t()} ${n}: ${r ? `${r.status} ${JSON.stringify(r.body)}` : "no answer within 5 s"}`);
      if (s % 4 === 0) during.push(`${t()} /readyz: ${states.map(([n, r]) => `${n} ${r?.status ?? "no answer"}`).join(", ")}`);
    }
    answeredDuring = d.outcomes.size - answeredBefore;
  } finally {
    console.log(`${t()} starting PostgreSQL again`);
    await down?.restore();
  }
  console.log(`${t()} PostgreSQL back and the stack healthy; ${d.placed.length} orders placed so far, ${answeredDuring} answered while it was down\n${during.join("\n")}`);

  // Progress after the outage, for the evidence if something stalls.
  let settled = false;
  const reporting = (async () => {
    for (let s = 0; !settled; s++) {
      if (s > 0 && s % 30 === 0) console.log(`${t()} still waiting for ${d.placed.length - d.outcomes.size} outcomes:\n${await groupsReport().catch((e: unknown) => String(e))}`);
      await sleep(1_000);
    }
  })();
  expect.soft(notWaiting, "services whose /readyz did not answer 503 while PostgreSQL was down").toEqual([]);
  await lives.finally(() => (settled = true));
  await reporting;
  console.log(`${t()} every order answered or given up on (${d.stuck.length} without a terminal status)`);
  await fleet.untilReady(120_000);

  // FreeRADIUS reads its SQL again: an active subscriber's first password is accepted.
  const [someone] = active;
  expect.soft(someone, "no subscriber ended active").toBeDefined();
  if (someone) {
    const creds = await getJson<{ username: string; password: string }>("radius", `/tenants/${tenant}/subscribers/${someone}/radius-credentials`, token);
    expect.soft(creds.status).toBe(200);
    expect.soft((await authenticate(creds.body.username, creds.body.password)).code, "FreeRADIUS after the restart").toBe("Access-Accept");
  }
  await verdict({ tenant, desk: d, fleet, marks, t });
}, 540_000);
