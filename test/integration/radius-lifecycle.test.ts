// The radius service through suspend, resume, plan change and termination on the real stack:
// Kafka, the registry, PostgreSQL, the real FreeRADIUS (auth and accounting), and a fake NAS on a
// loopback UDP port that answers Disconnect / CoA requests with ACK, NAK or silence.
import fs from "node:fs";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { definition } from "../../services/radius/service.js";
import { accounts, coaRequests, radcheck, radgroupreply, radusergroup } from "../../services/radius/store/schema.js";
import { addNas, listNas, setPlan, setPolicy } from "../../services/radius/store/store.js";
import { accountingStart as radiusAccountingStart, authenticate } from "../../scripts/radclient.js";
import { startFakeNas, type Received } from "../../scripts/simulated-nas.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka } from "../support/kafka.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { testCodec, watch, type Watch } from "../support/watch.js";
import { network as storyNetwork } from "../support/story.js";


const run = runId();
const tenant = `t-${run}`;
const wgTenant = `t-${run}-wg`;
const nasSecret = `nas-secret-${run}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
let service: RunningService;
let lifecycle: Watch;

// Every line the service logs, to prove no secret is in one.
const logged: string[] = [];
const { write, writeSync } = fs;
const capture = (fd: unknown, data: unknown) => {
  if (fd === 1 || fd === 2) logged.push(Buffer.isBuffer(data) ? data.toString("utf8") : String(data));
};
fs.write = ((fd: number, data: unknown, ...rest: unknown[]) => {
  capture(fd, data);
  return (write as (...a: unknown[]) => unknown)(fd, data, ...rest);
}) as typeof fs.write;
fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
  capture(fd, data);
  return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
}) as typeof fs.writeSync;

// ---- a fake NAS (scripts/simulated-nas.ts) ------------------------------------------------------

let nas: Awaited<ReturnType<typeof startFakeNas>>;
const received = (): readonly Received[] => nas.received;
const receivedFor = (username: string, code: string, count = 1) => nas.receivedFor(username, code, count);

// ---- events ------------------------------------------------------------------------------------

const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ ipv6_assignment_mode: "dual_stack", ...over });

interface Sub {
  readonly id: string;
  readonly number: string;
  readonly order: string;
  readonly tenant: string;
  readonly username: string;
  readonly ip: string;
}
let subs = 0;
const newSub = (t = tenant): Sub => {
  const n = ++subs;
  const number = `SUB-${run.toUpperCase()}-${n}`;
  return { id: `sub-${run}-${n}`, number, order: `order-${run}-${n}`, tenant: t, username: `${number.toLowerCase()}@${t}`, ip: `100.65.${Math.floor(Math.random() * 250)}.${n + 1}` };
};

const event = <K extends EventName>(sub: Sub, type: K, data: EventData<K>): Message<K> =>
  ({
    type,
    meta: { event_id: `evt-${runId()}`, occurred_at: Date.now(), tenant_id: sub.tenant, subscriber_id: sub.id, correlation_id: sub.order, causation_id: null, producer: "test" },
    data,
  }) as Message<K>;

async function publish(...messages: Message[]): Promise<void> {
  for (const m of messages) {
    await producer.send({ topic: topics.lifecycle, messages: [{ key: m.meta.subscriber_id, value: await testCodec.encode(topics.lifecycle, m) }] });
  }
}

const suspendRequested = (sub: Sub) =>
  event(sub, "SubscriberSuspendRequested", { order_id: `${sub.order}-s-${runId()}`, reason: "non-payment", network_profile_id: `np-${sub.id}`, network: network() });
const resumeRequested = (sub: Sub) => event(sub, "SubscriberResumeRequested", { order_id: `${sub.order}-r-${runId()}` });
const planChangeRequested = (sub: Sub, planId: string) =>
  event(sub, "SubscriberPlanChangeRequested", { order_id: `${sub.order}-m-${runId()}`, service_plan_id: planId, bandwidth_mbps: 500, effective_date: "2026-12-01" });

/** Provisions `sub` (account created), retrieves its first password and opens a session through FreeRADIUS accounting. */
async function provision(sub: Sub): Promise<string> {
  await createAccount(sub);
  const path = `/tenants/${encodeURIComponent(sub.tenant)}/subscribers/${encodeURIComponent(sub.id)}/radius-credentials`;
  const res = await fetchAs(await tokenFor(sub.tenant), `http://127.0.0.1:${service.health.port}${path}`);
  const { password } = (await res.json()) as { password: string };
  await accountingStart(sub);
  return password;
}

/** The account of `sub`, created from its lifecycle events. */
async function createAccount(sub: Sub): Promise<void> {
  const ips: FiberIpAssignment = { ipv4: sub.ip, ipv6: null, ipv6_prefix: null, source: "dynamic" };
  await publish(
    event(sub, "SubscriberCreated", {
      order_id: sub.order,
      subscriber_number: sub.number,
      crm_reference: `crm-${sub.id}`,
      customer: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: null },
      service_address: "1 Fiber Way",
      connection_type: "ftth",
      service_plan_id: "fiber-100",
      bandwidth_mbps: 100,
      onu_serial: null,
      network: network(),
      metadata: {},
    }),
    event(sub, "NetworkProfileCreated", { profile: { network_profile_id: `np-${sub.id}`, config: network(), metadata: {} } }),
    event(sub, "IpAllocated", { ips }),
  );
  await lifecycle.waitForType(sub.id, "RadiusAccountCreated");
}

/** A real Accounting-Start to FreeRADIUS, so radacct holds the open session. */
const accountingStart = (sub: Sub): Promise<void> => radiusAccountingStart(sub.username, `sess-${sub.id}`, sub.ip);

const coaCompleted = async (sub: Sub, kind: string, count = 1) =>
  (await lifecycle.waitFor(sub.id, (ms) => ms.filter((m) => m.type === "RadiusCoaCompleted" && m.data.kind === kind).length >= count)).filter(
    (m): m is Message<"RadiusCoaCompleted"> => m.type === "RadiusCoaCompleted" && m.data.kind === kind,
  );

const coaRows = (sub: Sub) => db.select().from(coaRequests).where(and(eq(coaRequests.tenantId, sub.tenant), eq(coaRequests.subscriberId, sub.id)));

// ---- the tests ---------------------------------------------------------------------------------

beforeAll(async () => {
  nas = await startFakeNas(nasSecret);
  const port = nas.port;
  await producer.connect();
  lifecycle = await watch(topics.lifecycle);
  service = await runService(definition(), { ...testEnv, LOG_LEVEL: "info", COA_TIMEOUT_MS: "300", COA_ATTEMPTS: "3", COA_POLL_MS: "500" });
  for (const t of [tenant, wgTenant]) {
    await setPlan(db, t, { planId: "fiber-100", downloadMbps: 100, uploadMbps: 50 });
    await setPlan(db, t, { planId: "fiber-500", downloadMbps: 500, uploadMbps: 250 });
    await addNas(db, { tenantId: t, nasId: "nas-1", address: "127.0.0.1", coaPort: port, secret: nasSecret });
  }
  // Both tenants name their walled garden alike: each gets its own group (FreeRADIUS reads group replies by name alone).
  const stored = await setPolicy(db, wgTenant, { mode: "walled_garden", walledGardenGroup: "walled-garden" }, [{ attribute: "Mikrotik-Rate-Limit", op: ":=", value: "1M/1M" }]);
  const other = await setPolicy(db, `${wgTenant}-other`, { mode: "walled_garden", walledGardenGroup: "walled-garden" }, [{ attribute: "Mikrotik-Rate-Limit", op: ":=", value: "2M/2M" }]);
  // Under the tenant's prefix and apart from its plan groups (<tenant>:<plan>).
  expect([stored.walledGardenGroup, other.walledGardenGroup]).toEqual([`${wgTenant}:wg:walled-garden`, `${wgTenant}-other:wg:walled-garden`]);
});

afterAll(async () => {
  await service?.stop();
  await lifecycle?.stop();
  await producer.disconnect();
  await sql.end();
  await nas?.close();
  fs.write = write;
  fs.writeSync = writeSync;
});

describe("radius lifecycle", () => {
  const a = newSub();
  let password = "";

  it("Access-Accept after provisioning", async () => {
    password = await provision(a);
    expect((await authenticate(a.username, password)).code).toBe("Access-Accept");
  });

  it("suspend (reject policy): Auth-Type := Reject, Access-Reject, and a Disconnect-Request with User-Name and Framed-IP-Address to the session's NAS", async () => {
    const trigger = suspendRequested(a);
    await publish(trigger);
    const suspended = await lifecycle.waitForType(a.id, "RadiusAccountSuspended");
    expect(suspended.data).toEqual({ username: a.username, mode: "reject" });
    expect(suspended.meta.causation_id).toBe(trigger.meta.event_id);

    const [packet] = await receivedFor(a.username, "Disconnect-Request");
    expect(packet?.attributes).toMatchObject({ "User-Name": a.username, "Framed-IP-Address": a.ip, "Acct-Session-Id": `sess-${a.id}` });
    const [done] = await coaCompleted(a, "disconnect");
    expect(done?.data).toEqual({ username: a.username, kind: "disconnect", nas_id: "nas-1", nas_address: null, outcome: "ack", error_cause: null, attempts: 1 });

    expect((await authenticate(a.username, password)).code).toBe("Access-Reject");
    const check = await db.select().from(radcheck).where(and(eq(radcheck.tenantId, tenant), eq(radcheck.username, a.username)));
    expect(check.map((c) => `${c.attribute} ${c.op} ${c.value}`)).toContain("Auth-Type := Reject");
    // The profile context came with the event.
    expect(logged.some((l) => l.includes(`Loaded network profile for subscriber ${a.id}`) && l.includes('"vlan":100') && l.includes('"inner_vlan":1000') && l.includes("dual_stack"))).toBe(true);
  });

  it("resume undoes the suspension exactly: Access-Accept again", async () => {
    await publish(resumeRequested(a));
    expect((await lifecycle.waitForType(a.id, "RadiusAccountResumed")).data).toEqual({ username: a.username });
    expect((await authenticate(a.username, password)).code).toBe("Access-Accept");
    const check = await db.select().from(radcheck).where(and(eq(radcheck.tenantId, tenant), eq(radcheck.username, a.username)));
    expect(check.map((c) => c.attribute)).toEqual(["SSHA2-512-Password"]);
  });

  it("plan change: new group, RadiusPlanChanged with the rate limit, and a CoA-Request with the new Mikrotik-Rate-Limit", async () => {
    await publish(planChangeRequested(a, "fiber-500"));
    const changed = await lifecycle.waitForType(a.id, "RadiusPlanChanged");
    expect(changed.data).toEqual({ username: a.username, service_plan_id: "fiber-500", rate_limit: "250M/500M", reverts_order_id: null });
    const [packet] = await receivedFor(a.username, "CoA-Request");
    expect(packet?.attributes).toMatchObject({ "User-Name": a.username, "Framed-IP-Address": a.ip, "Mikrotik-Rate-Limit": "250M/500M" });
    expect((await coaCompleted(a, "coa"))[0]?.data.outcome).toBe("ack");
    const accept = await authenticate(a.username, password);
    expect(accept.code).toBe("Access-Accept");
    expect(accept.attributes["Mikrotik-Rate-Limit"]).toBe("250M/500M");
  });

  it("plan change to a plan not configured fails with plan_not_configured and changes nothing", async () => {
    const before = await db.select().from(radusergroup).where(and(eq(radusergroup.tenantId, tenant), eq(radusergroup.username, a.username)));
    await publish(planChangeRequested(a, "fiber-9000"));
    const failed = await lifecycle.waitForType(a.id, "RadiusPlanChangeFailed");
    expect(failed.data).toMatchObject({ username: a.username, service_plan_id: "fiber-9000", code: "plan_not_configured" });
    const after = await db.select().from(radusergroup).where(and(eq(radusergroup.tenantId, tenant), eq(radusergroup.username, a.username)));
    expect(after).toEqual(before);
    expect(after[0]?.groupname).toBe(`${tenant}:fiber-500`);
  });

  it("a NAK is recorded with its Error-Cause, and the account is suspended anyway", async () => {
    nas.answer({ kind: "nak", errorCause: 503 });
    await publish(suspendRequested(a));
    const [, nak] = await coaCompleted(a, "disconnect", 2);
    expect(nak?.data).toMatchObject({ outcome: "nak", error_cause: 503, attempts: 1, nas_id: "nas-1" });
    const rows = (await coaRows(a)).filter((r) => r.status === "nak");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ errorCause: 503, attempts: 1, kind: "disconnect" });
    expect((await authenticate(a.username, password)).code).toBe("Access-Reject");
    nas.answer({ kind: "ack" });
    await publish(resumeRequested(a));
    await lifecycle.waitFor(a.id, (ms) => ms.filter((m) => m.type === "RadiusAccountResumed").length >= 2);
  });

  it("a silent NAS is recorded as timeout after the bounded attempts, and the account is suspended anyway", async () => {
    nas.answer({ kind: "silent" });
    const before = received().length;
    await publish(suspendRequested(a));
    await lifecycle.waitFor(a.id, (ms) => ms.filter((m) => m.type === "RadiusAccountSuspended").length >= 3);
    expect((await authenticate(a.username, password)).code).toBe("Access-Reject"); // before the NAS question is settled
    const [, , timeout] = await coaCompleted(a, "disconnect", 3);
    expect(timeout?.data).toMatchObject({ outcome: "timeout", error_cause: null, attempts: 3 });
    expect(received().length - before).toBe(3);
    expect((await coaRows(a)).filter((r) => r.status === "timeout")).toHaveLength(1);
    nas.answer({ kind: "ack" });
  });

  it("terminate: the account is deleted (Access-Reject) and the session gets a Disconnect-Request", async () => {
    const before = (await receivedFor(a.username, "Disconnect-Request", 3)).length;
    await publish(event(a, "SubscriberTerminationRequested", { order_id: `${a.order}-t`, reason: null }));
    const deleted = await lifecycle.waitForType(a.id, "RadiusAccountDeleted");
    expect(deleted.data).toEqual({ username: a.username, reason: "terminated" });
    const packets = await receivedFor(a.username, "Disconnect-Request", before + 1);
    expect(packets.at(-1)?.attributes).toMatchObject({ "User-Name": a.username, "Framed-IP-Address": a.ip });
    expect((await coaCompleted(a, "disconnect", 4)).at(-1)?.data.outcome).toBe("ack");
    expect((await authenticate(a.username, password)).code).toBe("Access-Reject");
    const [account] = await db.select().from(accounts).where(and(eq(accounts.tenantId, tenant), eq(accounts.subscriberId, a.id)));
    expect(account?.status).toBe("deleted");
    expect(lifecycle.about(a.id).filter((m) => m.type === "RadiusAccountDeleted")).toHaveLength(1);
  });

  it("walled_garden policy: suspend moves the account to the walled-garden group with a CoA; resume moves it back", async () => {
    const w = newSub(wgTenant);
    const pw = await provision(w);
    await publish(suspendRequested(w));
    expect((await lifecycle.waitForType(w.id, "RadiusAccountSuspended")).data).toEqual({ username: w.username, mode: "walled_garden" });
    const group = async () => (await db.select().from(radusergroup).where(and(eq(radusergroup.tenantId, wgTenant), eq(radusergroup.username, w.username))))[0]?.groupname;
    expect(await group()).toBe(`${wgTenant}:wg:walled-garden`);
    const [coa] = await receivedFor(w.username, "CoA-Request");
    expect(coa?.attributes).toMatchObject({ "User-Name": w.username, "Mikrotik-Rate-Limit": "1M/1M" });
    const accept = await authenticate(w.username, pw);
    expect(accept.attributes["Mikrotik-Rate-Limit"]).toBe("1M/1M"); // its own tenant's, not the other's 2M/2M
    const replies = await db.select().from(radgroupreply).where(eq(radgroupreply.groupname, `${wgTenant}:wg:walled-garden`));
    expect(replies.map((r) => [r.tenantId, r.value])).toEqual([[wgTenant, "1M/1M"]]);

    await publish(resumeRequested(w));
    await lifecycle.waitForType(w.id, "RadiusAccountResumed");
    expect(await group()).toBe(`${wgTenant}:fiber-100`);
    const [, back] = await receivedFor(w.username, "CoA-Request", 2);
    expect(back?.attributes).toMatchObject({ "Mikrotik-Rate-Limit": "50M/100M" });
  });

  it("no open session on a registered NAS: no packet, outcome no_session, and the account is suspended anyway", async () => {
    const quiet = newSub();
    const ips: FiberIpAssignment = { ipv4: quiet.ip, ipv6: null, ipv6_prefix: null, source: "dynamic" };
    await publish(
      event(quiet, "SubscriberCreated", {
        order_id: quiet.order,
        subscriber_number: quiet.number,
        crm_reference: `crm-${quiet.id}`,
        customer: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: null },
        service_address: "1 Fiber Way",
        connection_type: "ftth",
        service_plan_id: "fiber-100",
        bandwidth_mbps: 100,
        onu_serial: null,
        network: network(),
        metadata: {},
      }),
      event(quiet, "IpAllocated", { ips }),
    );
    await lifecycle.waitForType(quiet.id, "RadiusAccountCreated");
    await publish(suspendRequested(quiet));
    const [done] = await coaCompleted(quiet, "disconnect");
    expect(done?.data).toEqual({ username: quiet.username, kind: "disconnect", nas_id: null, nas_address: null, outcome: "no_session", error_cause: null, attempts: 0 });
    expect(await coaRows(quiet)).toMatchObject([{ status: "no_session", nasId: null, attempts: 0 }]);
    expect(received().filter((r) => r.attributes["User-Name"] === quiet.username)).toHaveLength(0);
    const [account] = await db.select().from(accounts).where(and(eq(accounts.tenantId, tenant), eq(accounts.subscriberId, quiet.id)));
    expect(account).toMatchObject({ status: "suspended", suspendMode: "reject" });
  });

  it("an open session on a NAS the registry does not know: nothing sent, outcome unknown_nas with its address (not no_session), the account suspended anyway", async () => {
    const lost = newSub();
    await createAccount(lost);
    // As FreeRADIUS records an Accounting-Start from a NAS nobody registered.
    await sql`insert into radius.radacct (acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime)
              values (${`sess-${lost.id}`}, ${`uniq-${lost.id}`}, ${lost.username}, '10.99.0.1', now())`;
    await publish(suspendRequested(lost));
    const [done] = await coaCompleted(lost, "disconnect");
    expect(done?.data).toEqual({ username: lost.username, kind: "disconnect", nas_id: null, nas_address: "10.99.0.1", outcome: "unknown_nas", error_cause: null, attempts: 0 });
    expect(await coaRows(lost)).toMatchObject([{ status: "unknown_nas", nasId: null, attempts: 0 }]);
    expect(received().filter((r) => r.attributes["User-Name"] === lost.username)).toHaveLength(0);
    const [account] = await db.select().from(accounts).where(and(eq(accounts.tenantId, tenant), eq(accounts.subscriberId, lost.id)));
    expect(account).toMatchObject({ status: "suspended", suspendMode: "reject" });
  });

  it("in one unit of work (accounts and sessions read ahead for all): each suspension finds its session or none, and a second event of a subscriber sees the first's change", async () => {
    const [b, c] = [newSub(), newSub()];
    await provision(b); // open session on nas-1
    await createAccount(c); // no session
    const reactor = definition().reactor(service.deps as Parameters<ReturnType<typeof definition>["reactor"]>[0]);
    const messages = [suspendRequested(b), suspendRequested(c), resumeRequested(b)];
    await reactor.run(messages.map((message, i) => ({ message, delivery: { topic: topics.lifecycle, partition: 0, offset: String(5_000_000 + i), headers: {} }, log: service.deps.logger })));

    const status = async (sub: Sub) => (await db.select().from(accounts).where(and(eq(accounts.tenantId, sub.tenant), eq(accounts.subscriberId, sub.id))))[0]?.status;
    expect(await status(b)).toBe("active");
    expect(await status(c)).toBe("suspended");
    const checks = await db.select().from(radcheck).where(and(eq(radcheck.tenantId, tenant), eq(radcheck.username, b.username)));
    expect(checks.map((r) => r.attribute)).toEqual(["SSHA2-512-Password"]);
    const [bCoa] = (await coaRows(b)).filter((r) => r.kind === "disconnect");
    expect(bCoa).toMatchObject({ nasId: "nas-1", attributes: { "User-Name": b.username, "Framed-IP-Address": b.ip, "Acct-Session-Id": `sess-${b.id}` } });
    expect((await coaRows(c)).map((r) => `${r.kind} ${r.status} ${r.nasId}`)).toEqual(["disconnect no_session null"]);
  });

  it("the NAS secret is in no event, no log line, and nas list does not return it", async () => {
    expect(JSON.stringify(lifecycle.seen)).not.toContain(nasSecret);
    expect(logged.join("\n")).not.toContain(nasSecret);
    expect(JSON.stringify(await listNas(db, tenant))).not.toContain(nasSecret);
  });
});
