// The radius CoA dispatcher against real PostgreSQL and fake NASes on loopback UDP ports
// (scripts/simulated-nas.ts): concurrency with a window per NAS and a bound over all, a silent
// NAS that holds no one else up, claims taken again after their lease ran out (a dead dispatcher,
// simulated and killed for real), and two dispatchers on one queue reporting each request once.
// It runs in a database of its own on the stack's server (scripts/coa-dispatcher.ts says why),
// each test with its own tenants and dispatchers limited to them; what it queued is removed after.
import { Writable } from "node:stream";
import { and, eq, inArray, sql as dsql } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Db, type Sql } from "../../shared/db.js";
import type { DispatcherConfig } from "../../services/radius/dispatcher.js";
import { claimCoa, recordCoaOutcomes } from "../../services/radius/store/coa-queue.js";
import { coaRequests, nasDevices, outbox } from "../../services/radius/store/schema.js";
import { addNas } from "../../services/radius/store/store.js";
import { isolatedDatabase, standaloneDispatcher, type StandaloneDispatcher } from "../../scripts/coa-dispatcher.js";
import { startFakeNas } from "../../scripts/simulated-nas.js";
import { runId, testEnv } from "../support/env.js";
import { startProcess, within } from "../support/process.js";

const run = runId();
const secret = `nas-secret-${run}`;
let url = "";
let sql: Sql;
let db: Db;
const tenants: string[] = [];
const nases: Array<Awaited<ReturnType<typeof startFakeNas>>> = [];
const dispatchers: StandaloneDispatcher[] = [];

let tenantSeq = 0;
const newTenant = (): string => {
  const t = `t-${run}-coa${++tenantSeq}`;
  tenants.push(t);
  return t;
};

/** A fake NAS registered as `nasId` of the tenant(s); each on its own loopback address (a tenant's NASes have distinct addresses). */
async function fakeNas(tenant: string | readonly string[], nasId: string, options: { delayMs?: number } = {}) {
  const nas = await startFakeNas(secret, { ...options, host: `127.0.0.${nases.length + 1}` });
  nases.push(nas);
  for (const t of typeof tenant === "string" ? [tenant] : tenant) await addNas(db, { tenantId: t, nasId, address: nas.host, coaPort: nas.port, secret });
  return nas;
}

let reqSeq = 0;
/** Queues `n` Disconnect requests for `nasId`, as the handler writes them; returns their ids and usernames, oldest first. */
async function queue(tenant: string, nasId: string, n: number, extra: Record<string, string> = {}): Promise<Array<{ id: string; username: string; cause: string }>> {
  const rows = Array.from({ length: n }, () => {
    const k = ++reqSeq;
    const username = `sub-${k}@${tenant}`;
    return {
      id: `coa-${run}-${k}`,
      tenantId: tenant,
      subscriberId: `sub-${run}-${k}`,
      username,
      kind: "disconnect" as const,
      nasId,
      attributes: { "User-Name": username, ...extra },
      causeEventId: `evt-${run}-${k}`,
      correlationId: `order-${run}-${k}`,
      status: "pending" as const,
      // Strictly increasing, so "oldest first" is the order written here.
      createdAt: new Date(Date.now() - 3_600_000 + k),
    };
  });
  await db.insert(coaRequests).values(rows);
  return rows.map((r) => ({ id: r.id, username: r.username, cause: r.causeEventId }));
}

const settings = (tenant: string | readonly string[], over: Partial<DispatcherConfig> = {}): DispatcherConfig => ({
  COA_TIMEOUT_MS: 3000,
  COA_ATTEMPTS: 2,
  COA_POLL_MS: 100,
  COA_WINDOW_PER_NAS: 32,
  COA_MAX_IN_FLIGHT: 256,
  tenants: typeof tenant === "string" ? [tenant] : tenant,
  ...over,
});

/** A dispatcher with its own pool (as a second process would have); its log lines counted by message. */
function dispatcher(config: DispatcherConfig) {
  const lines: Array<{ msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as { msg: string });
      done();
    },
  });
  const d = standaloneDispatcher(url, config, pino({ level: "info" }, stream));
  dispatchers.push(d);
  return { ...d, lines };
}

const rowsOf = (ids: readonly string[]) => db.select().from(coaRequests).where(inArray(coaRequests.id, [...ids]));

/** Waits (polling PostgreSQL) until `cond` holds for the rows; fails with what was seen at the deadline. */
async function until(ids: readonly string[], cond: (rows: Awaited<ReturnType<typeof rowsOf>>) => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await rowsOf(ids);
    if (cond(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(rows.map((r) => [r.id, r.status, r.attempts]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const recorded = (r: { status: string }) => r.status !== "pending" && r.status !== "sending";
const allRecorded = (ids: readonly string[], timeoutMs?: number) => until(ids, (rows) => rows.length === ids.length && rows.every(recorded), `${ids.length} requests recorded`, timeoutMs);

/** The RadiusCoaCompleted events in the outbox for `tenant`, counted per causing event. */
async function completions(tenant: string) {
  const rows = await db
    .select({ meta: outbox.meta, data: outbox.data })
    .from(outbox)
    .where(and(eq(outbox.type, "RadiusCoaCompleted"), dsql`${outbox.meta}->>'tenant_id' = ${tenant}`));
  const perCause = new Map<string, number>();
  for (const r of rows) {
    const cause = (r.meta as { causation_id: string }).causation_id;
    perCause.set(cause, (perCause.get(cause) ?? 0) + 1);
  }
  return { rows: rows as Array<{ meta: { causation_id: string }; data: { outcome: string; attempts: number; nas_id: string | null; username: string } }>, perCause };
}

/** Exactly one RadiusCoaCompleted per request, and none for anything else. */
async function expectOneEventEach(tenant: string, reqs: ReadonlyArray<{ cause: string }>) {
  const { perCause } = await completions(tenant);
  expect(perCause.size).toBe(reqs.length);
  for (const r of reqs) expect(perCause.get(r.cause), r.cause).toBe(1);
}

const packetsFor = (nas: Awaited<ReturnType<typeof startFakeNas>>, username: string) => nas.received.filter((p) => p.attributes["User-Name"] === username).length;

beforeAll(async () => {
  url = await isolatedDatabase(testEnv.DATABASE_URL);
  ({ sql, db } = connect(url));
});

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.stop()));
  await Promise.all(nases.map((n) => n.close()));
  if (db && tenants.length > 0) {
    // No relay runs here: the events this file caused are removed with the requests.
    await db.delete(outbox).where(inArray(dsql`${outbox.meta}->>'tenant_id'`, tenants));
    await db.delete(coaRequests).where(inArray(coaRequests.tenantId, tenants));
    await db.delete(nasDevices).where(inArray(nasDevices.tenantId, tenants));
  }
  await sql?.end();
});

describe("radius CoA dispatch", () => {
  it("a silent NAS holds up no other NAS: the answering NAS's requests are done before the silent one's first timeout", async () => {
    const t = newTenant();
    const silent = await fakeNas(t, "nas-silent");
    silent.answer({ kind: "silent" });
    const answering = await fakeNas(t, "nas-ok");
    // The silent NAS's requests are the older ones: a one-at-a-time dispatcher would wait 12 × 2 × 1.5 s first.
    const stuck = await queue(t, "nas-silent", 12);
    const quick = await queue(t, "nas-ok", 12);
    const d = dispatcher(settings(t, { COA_TIMEOUT_MS: 1500, COA_ATTEMPTS: 2, COA_WINDOW_PER_NAS: 4 }));

    const done = await allRecorded(quick.map((r) => r.id), 10_000);
    expect(done.every((r) => r.status === "ack" && r.attempts === 1)).toBe(true);
    expect(answering.received).toHaveLength(12);
    // Observed at that moment: not one silent request has timed out yet, and only its window was sent.
    const silentNow = await rowsOf(stuck.map((r) => r.id));
    expect(silentNow.filter(recorded)).toEqual([]);
    expect(silentNow.filter((r) => r.status === "sending")).toHaveLength(4);
    expect(silent.received.length).toBeLessThanOrEqual(8); // 4 requests, at most their second attempt

    // stop() waits for the four in flight to time out (2 attempts each) and records them; the rest stay queued.
    await d.stop();
    const after = await rowsOf(stuck.map((r) => r.id));
    expect(after.filter((r) => r.status === "timeout")).toHaveLength(4);
    expect(after.filter((r) => r.status === "timeout").every((r) => r.attempts === 2)).toBe(true);
    expect(after.filter((r) => r.status === "pending")).toHaveLength(8);
    expect(silent.received).toHaveLength(8);
    const { rows } = await completions(t);
    expect(rows.filter((e) => e.data.outcome === "ack")).toHaveLength(12);
    expect(rows.filter((e) => e.data.outcome === "timeout")).toHaveLength(4);
    expect(rows.find((e) => e.data.outcome === "timeout")?.data).toMatchObject({ nas_id: "nas-silent", attempts: 2 });
    await expectOneEventEach(t, [...quick, ...stuck.filter((s) => after.some((r) => r.id === s.id && r.status === "timeout"))]);
  });

  it("many requests to one NAS are in flight together up to its window, and never more", async () => {
    const t = newTenant();
    const nas = await fakeNas(t, "nas-1", { delayMs: 150 });
    const reqs = await queue(t, "nas-1", 80);
    const d = dispatcher(settings(t, { COA_WINDOW_PER_NAS: 8 }));
    await allRecorded(reqs.map((r) => r.id));
    expect(nas.maxUnanswered).toBe(8);
    expect(nas.received).toHaveLength(80); // one packet each: no retry, no second send
    expect((await rowsOf(reqs.map((r) => r.id))).every((r) => r.status === "ack" && r.attempts === 1)).toBe(true);
    await expectOneEventEach(t, reqs);
    await d.stop();
  });

  it("the bound over all NASes holds too", async () => {
    // Two tenants register the same fake NAS: two windows of 8, one process bound of 12, one place to count.
    const [t1, t2] = [newTenant(), newTenant()] as const;
    const nas = await fakeNas([t1, t2], "nas-1", { delayMs: 150 });
    const a = await queue(t1, "nas-1", 40);
    const b = await queue(t2, "nas-1", 40);
    const d = dispatcher(settings([t1, t2], { COA_WINDOW_PER_NAS: 8, COA_MAX_IN_FLIGHT: 12 }));
    await allRecorded([...a, ...b].map((r) => r.id));
    expect(nas.maxUnanswered).toBe(12);
    expect(nas.received).toHaveLength(80);
    await expectOneEventEach(t1, a);
    await expectOneEventEach(t2, b);
    await d.stop();
  });

  it("a request that cannot be built is recorded error (not the NAS's nak) with 0 attempts; one whose NAS was removed, unknown_nas; each reported once", async () => {
    const t = newTenant();
    const nas = await fakeNas(t, "nas-1");
    const [bad] = await queue(t, "nas-1", 1, { "No-Such-Attribute": "x" });
    const [gone] = await queue(t, "nas-removed", 1);
    const [good] = await queue(t, "nas-1", 1);
    if (!bad || !gone || !good) throw new Error("queued three");
    const d = dispatcher(settings(t));
    const rows = await allRecorded([bad.id, gone.id, good.id]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(bad.id)).toMatchObject({ status: "error", attempts: 0, errorCause: null });
    expect(byId.get(gone.id)).toMatchObject({ status: "unknown_nas", attempts: 0 });
    expect(byId.get(good.id)).toMatchObject({ status: "ack", attempts: 1 });
    expect(nas.received.map((p) => p.attributes["User-Name"])).toEqual([good.username]);
    const { rows: events } = await completions(t);
    expect(events.find((e) => e.meta.causation_id === gone.cause)?.data).toMatchObject({ outcome: "unknown_nas", nas_id: "nas-removed", attempts: 0 });
    expect(events.find((e) => e.meta.causation_id === bad.cause)?.data).toMatchObject({ outcome: "error", attempts: 0 });
    await expectOneEventEach(t, [bad, gone, good]);
    await d.stop();
  });

  it("a request whose claim's lease ran out (its dispatcher died) is sent and reported exactly once; a live claim is left alone", async () => {
    const t = newTenant();
    const nas = await fakeNas(t, "nas-1");
    const [orphan, held] = await queue(t, "nas-1", 2);
    if (!orphan || !held) throw new Error("queued two");
    // A dispatcher that claimed the older request and died; another, alive, holds the newer one.
    const dead = await claimCoa(db, { limit: 1, window: 32, leaseMs: 60_000, token: "dead", tenants: [t] });
    const alive = await claimCoa(db, { limit: 1, window: 32, leaseMs: 60_000, token: "alive", tenants: [t] });
    expect(dead.map((r) => r.id)).toEqual([orphan.id]);
    expect(alive.map((r) => r.id)).toEqual([held.id]);
    await db.update(coaRequests).set({ claimedUntil: dsql`now() - interval '1 second'` }).where(eq(coaRequests.id, orphan.id));

    const d = dispatcher(settings(t));
    const [done] = await allRecorded([orphan.id]);
    expect(done).toMatchObject({ status: "ack", attempts: 1 });
    expect(done?.claimToken).not.toBe("dead");
    expect(packetsFor(nas, orphan.username)).toBe(1);
    // The live claim was not taken: still sending under its token, never sent by this dispatcher.
    const [stillHeld] = await rowsOf([held.id]);
    expect(stillHeld).toMatchObject({ status: "sending", claimToken: "alive" });
    expect(packetsFor(nas, held.username)).toBe(0);

    // The dead dispatcher comes back with its outcome: its claim is gone, nothing is recorded.
    const late = await db.transaction((tx) => recordCoaOutcomes(tx, [{ id: orphan.id, claimToken: "dead", status: "timeout", errorCause: null, attempts: 3 }]));
    expect(late).toEqual([]);
    expect((await rowsOf([orphan.id]))[0]).toMatchObject({ status: "ack", attempts: 1 });
    // The live one records its own.
    const own = await db.transaction((tx) => recordCoaOutcomes(tx, [{ id: held.id, claimToken: "alive", status: "nak", errorCause: 503, attempts: 1 }]));
    expect(own.map((r) => r.id)).toEqual([held.id]);

    await d.stop();
    expect(packetsFor(nas, orphan.username)).toBe(1);
    const { perCause } = await completions(t);
    expect(perCause.get(orphan.cause)).toBe(1);
  });

  it("a dispatcher process killed with requests in flight: after the lease they are sent again and reported once", async () => {
    const t = newTenant();
    const nas = await fakeNas(t, "nas-1");
    nas.answer({ kind: "silent" });
    const reqs = await queue(t, "nas-1", 5);
    const proc = startProcess("test/fixtures/coa-dispatcher/main.ts", {
      ...testEnv,
      DATABASE_URL: url,
      COA_TENANTS: t,
      COA_TIMEOUT_MS: "10000",
      COA_ATTEMPTS: "1",
      COA_POLL_MS: "100",
      COA_LEASE_MS: "2000",
    });
    try {
      // Killed once every request is on the wire and unanswered.
      const deadline = Date.now() + 60_000;
      while (nas.received.length < 5) {
        if (Date.now() > deadline) throw new Error(`the dispatcher process sent ${nas.received.length} of 5\n${proc.output()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      proc.child.kill("SIGKILL");
    }
    expect((await within(proc.exited, 10_000, () => "the dispatcher process to die")).signal).toBe("SIGKILL");
    expect((await rowsOf(reqs.map((r) => r.id))).every((r) => r.status === "sending")).toBe(true);

    nas.answer({ kind: "ack" });
    const d = dispatcher(settings(t));
    const done = await allRecorded(reqs.map((r) => r.id));
    expect(done.every((r) => r.status === "ack" && r.attempts === 1)).toBe(true);
    for (const r of reqs) expect(packetsFor(nas, r.username)).toBe(2); // the dead process's send, and the one after the lease
    await expectOneEventEach(t, reqs);
    await d.stop();
  });

  it("two dispatchers on one queue: each request sent once and reported once, the window per NAS shared", async () => {
    const t = newTenant();
    const n1 = await fakeNas(t, "nas-1", { delayMs: 50 });
    const n2 = await fakeNas(t, "nas-2", { delayMs: 50 });
    const reqs = [...(await queue(t, "nas-1", 100)), ...(await queue(t, "nas-2", 100))];
    // Each process holds 8 at most, each NAS takes 8 at most: the second dispatcher must go to nas-2
    // while the first fills nas-1's window (a window per process would put 16 on nas-1).
    const one = settings(t, { COA_WINDOW_PER_NAS: 8, COA_MAX_IN_FLIGHT: 8 });
    const a = dispatcher(one);
    const b = dispatcher(one);
    await allRecorded(reqs.map((r) => r.id));
    await expectOneEventEach(t, reqs);
    expect(n1.received).toHaveLength(100);
    expect(n2.received).toHaveLength(100);
    expect(n1.maxUnanswered).toBeLessThanOrEqual(8);
    expect(n2.maxUnanswered).toBeLessThanOrEqual(8);
    const acked = (d: { lines: Array<{ msg: string }> }) => d.lines.filter((l) => l.msg === "disconnect request ack").length;
    expect(acked(a)).toBeGreaterThan(0);
    expect(acked(b)).toBeGreaterThan(0);
    expect(acked(a) + acked(b)).toBe(200);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("two dispatchers racing for requests whose claims run out mid-send: sent twice, reported once", async () => {
    const t = newTenant();
    // The first sends are answered after 600 ms, but claims last 300 ms: they are claimed again
    // (by either dispatcher) and sent again while the first answers are on their way.
    const nas = await fakeNas(t, "nas-1", { delayMs: 600 });
    const reqs = await queue(t, "nas-1", 16);
    const racing = settings(t, { COA_LEASE_MS: 300, COA_POLL_MS: 50 });
    const a = dispatcher(racing);
    const b = dispatcher(racing);
    const deadline = Date.now() + 30_000;
    while (nas.received.length < reqs.length) {
      if (Date.now() > deadline) throw new Error(`the NAS received ${nas.received.length} of ${reqs.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    nas.delay(0); // the second sends are answered at once
    await allRecorded(reqs.map((r) => r.id));
    await Promise.all([a.stop(), b.stop()]); // the first sends' answers arrive, too late for their claims
    expect(nas.received.length).toBeGreaterThan(reqs.length);
    const lost = [...a.lines, ...b.lines].filter((l) => l.msg.includes("not recorded: its claim ran out"));
    expect(lost.length).toBeGreaterThan(0);
    expect((await rowsOf(reqs.map((r) => r.id))).every((r) => r.status === "ack" && r.attempts === 1)).toBe(true);
    await expectOneEventEach(t, reqs);
  });
});
