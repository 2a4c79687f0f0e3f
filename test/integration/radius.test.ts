// The radius service on the real stack: Kafka, the registry, PostgreSQL, and the real FreeRADIUS
// server reading the radius schema, asked over UDP like a NAS would.
import fs from "node:fs";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData, EventName, FiberIpAssignment, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic, topics } from "../../shared/topics.js";
import { definition } from "../../services/radius/service.js";
import { accounts, firstPasswords, radcheck, radreply, radusergroup } from "../../services/radius/store/schema.js";
import { expireFirstPasswords, setPlan } from "../../services/radius/store/store.js";
import { authenticate } from "../../scripts/radclient.js";
import { committedPast, rememberSent } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { collector, header, testKafka, waitUntil } from "../support/kafka.js";
import { fetchAs, tokenFor } from "../support/tokens.js";
import { testCodec, watch, type Watch } from "../support/watch.js";
import { network as storyNetwork } from "../support/story.js";

const run = runId();
const tenant = `t-${run}`;
const otherTenant = `t-${run}-other`;
const plan = "fiber-100";
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
let service: RunningService;
let lifecycle: Watch;
const passwords: string[] = [];

// Every line the service logs (pino writes to fd 1 through fs), to prove no password is in one.
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

// ---- events ----------------------------------------------------------------------------------

const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ service_vlan: null, inner_vlan: null, qinq_enabled: false, ...over });

interface Sub {
  readonly id: string;
  readonly number: string;
  readonly order: string;
  readonly tenant: string;
  readonly username: string;
}
let subs = 0;
const newSub = (t = tenant): Sub => {
  const n = ++subs;
  const number = `SUB-${run.toUpperCase()}-${n}`;
  return { id: `sub-${run}-${n}`, number, order: `order-${run}-${n}`, tenant: t, username: `${number.toLowerCase()}@${t}` };
};

const event = <K extends EventName>(sub: Sub, type: K, data: EventData<K>): Message<K> =>
  ({
    type,
    meta: { event_id: `evt-${runId()}`, occurred_at: Date.now(), tenant_id: sub.tenant, subscriber_id: sub.id, correlation_id: sub.order, causation_id: null, producer: "test" },
    data,
  }) as Message<K>;

const subscriberCreated = (sub: Sub, net: FiberNetworkConfig, planId = plan) =>
  event(sub, "SubscriberCreated", {
    order_id: sub.order,
    subscriber_number: sub.number,
    crm_reference: `crm-${sub.id}`,
    customer: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: null },
    service_address: "1 Fiber Way",
    connection_type: "ftth",
    service_plan_id: planId,
    bandwidth_mbps: 100,
    onu_serial: `ALCL${subs}`,
    network: net,
    metadata: {},
  });
const profileCreated = (sub: Sub, net: FiberNetworkConfig) =>
  event(sub, "NetworkProfileCreated", { profile: { network_profile_id: `np-${sub.id}`, config: net, metadata: {} } });
const ipAllocated = (sub: Sub, ips: FiberIpAssignment) => event(sub, "IpAllocated", { ips });

async function publish(...messages: Message[]): Promise<void> {
  for (const m of messages) {
    const meta = await producer.send({ topic: topics.lifecycle, messages: [{ key: m.meta.subscriber_id, value: await testCodec.encode(topics.lifecycle, m) }] });
    rememberSent(m, topics.lifecycle, meta);
  }
}

/** Waits until the service has handled `m`: its group committed past it. */
const consumed = (m: Message) => waitUntil(() => committedPast("radius", m), 60_000, () => `radius to consume ${m.type} ${m.meta.event_id}`);

// ---- the admin routes and a RADIUS client -------------------------------------------------------

/** One operator token per tenant of this run. */
const tokens = new Map<string, string>();
const tokenOf = async (t: string): Promise<string> => {
  if (!tokens.has(t)) tokens.set(t, await tokenFor(t));
  return tokens.get(t) ?? "";
};

type Answer = { status: number; body: { username?: string; password?: string; error?: string; reason?: string | null } };

async function credentials(sub: Sub, method: "GET" | "POST", suffix: string, asTenant: string): Promise<Answer> {
  const path = `/tenants/${encodeURIComponent(sub.tenant)}/subscribers/${encodeURIComponent(sub.id)}/radius-credentials${suffix}`;
  const res = await fetchAs(await tokenOf(asTenant), `http://127.0.0.1:${service.health.port}${path}`, { method });
  const body = (await res.json()) as Answer["body"];
  if (body.password) passwords.push(body.password);
  return { status: res.status, body };
}

/** GET .../radius-credentials: the account's first password, once. */
const firstPassword = (sub: Sub, asTenant = sub.tenant) => credentials(sub, "GET", "", asTenant);
/** POST .../radius-credentials/rotate: a new password. */
const rotate = (sub: Sub, asTenant = sub.tenant) => credentials(sub, "POST", "/rotate", asTenant);

/** An account for `sub`, from its SubscriberCreated and IpAllocated. */
async function accountFor(sub: Sub, ipv4: string): Promise<void> {
  await publish(subscriberCreated(sub, network({ service_vlan: 100 })), ipAllocated(sub, { ipv4, ipv6: null, ipv6_prefix: null, source: "dynamic" }));
  await lifecycle.waitForType(sub.id, "RadiusAccountCreated");
}

const firstPasswordRow = async (sub: Sub) =>
  (await db.select().from(firstPasswords).where(and(eq(firstPasswords.tenantId, sub.tenant), eq(firstPasswords.subscriberId, sub.id))))[0];

const rowsOf = async (username: string) => ({
  check: await db.select().from(radcheck).where(eq(radcheck.username, username)),
  reply: await db.select().from(radreply).where(eq(radreply.username, username)),
  groups: await db.select().from(radusergroup).where(eq(radusergroup.username, username)),
});

// ---- the tests ---------------------------------------------------------------------------------

beforeAll(async () => {
  await producer.connect();
  lifecycle = await watch(topics.lifecycle);
  service = await runService(definition(), { ...testEnv, LOG_LEVEL: "info" });
  await setPlan(db, tenant, { planId: plan, downloadMbps: 100, uploadMbps: 50 });
});

afterAll(async () => {
  await service?.stop();
  await lifecycle?.stop();
  await producer.disconnect();
  await sql.end();
  fs.write = write;
  fs.writeSync = writeSync;
});

describe("radius service", () => {
  const qinq = network({ service_vlan: 100, inner_vlan: 1000, qinq_enabled: true, ipv6_assignment_mode: "dual_stack" });
  const dualStack: FiberIpAssignment = { ipv4: "100.64.12.34", ipv6: "2001:db8:12::34", ipv6_prefix: "2001:db8:1200::/56", source: "dynamic" };
  const a = newSub();
  const aAllocated = ipAllocated(a, dualStack);

  it("FreeRADIUS Access-Accept with the allocated Framed-IP-Address, Framed-IPv6-Address, Delegated-IPv6-Prefix and VLAN", async () => {
    const trigger = aAllocated;
    await publish(subscriberCreated(a, network({ service_vlan: 7 })), profileCreated(a, qinq), trigger);

    const created = await lifecycle.waitForType(a.id, "RadiusAccountCreated");
    expect(created.data).toEqual({ username: a.username, plan_group: `${tenant}:${plan}` });
    expect(created.meta).toMatchObject({ tenant_id: tenant, correlation_id: a.order, causation_id: trigger.meta.event_id, producer: "radius" });

    // The first password, generated with the account, is the one FreeRADIUS accepts.
    const { status, body } = await firstPassword(a);
    expect(status).toBe(200);
    expect(body.username).toBe(a.username);
    expect(body.password).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const accept = await authenticate(a.username, body.password ?? "");
    expect(accept.code).toBe("Access-Accept");
    expect(accept.attributes).toEqual({
      "Framed-IP-Address": "100.64.12.34",
      "Framed-IPv6-Address": "2001:db8:12::34",
      "Delegated-IPv6-Prefix": "2001:db8:1200::/56",
      "Tunnel-Type:1": "VLAN",
      "Tunnel-Medium-Type:1": "IEEE-802",
      "Tunnel-Private-Group-Id:1": "100", // the profile's VLANs win over the order's
      "Tunnel-Type:2": "VLAN",
      "Tunnel-Medium-Type:2": "IEEE-802",
      "Tunnel-Private-Group-Id:2": "1000",
      "Mikrotik-Rate-Limit": "50M/100M",
      "WISPr-Bandwidth-Max-Down": "100000000",
      "WISPr-Bandwidth-Max-Up": "50000000",
    });

    const reject = await authenticate(a.username, "not-the-password");
    expect(reject.code).toBe("Access-Reject");
    expect(reject.attributes).toEqual({});

    // Only the salted hash is stored.
    const { check } = await rowsOf(a.username);
    expect(check).toHaveLength(1);
    expect(check[0]).toMatchObject({ attribute: "SSHA2-512-Password", op: ":=", tenantId: tenant });
    expect(check[0]?.value).not.toContain(body.password);
  });

  it("the first password is given once: a second retrieval answers 410 Gone with no password, and it is not kept", async () => {
    const again = await firstPassword(a);
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ username: a.username, reason: "retrieved" });
    expect(again.body.error).toContain("radius-credentials/rotate");
    expect(again.body.password).toBeUndefined();
    expect(await firstPasswordRow(a)).toMatchObject({ password: null, goneReason: "retrieved", retrievedBy: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // The old way (POST on the credentials) is no longer a rotation.
    expect((await credentials(a, "POST", "", a.tenant)).status).toBe(405);
  });

  it("a first password past FIRST_PASSWORD_TTL_MS is emptied, by the route or by the expiry sweep (410 expired)", async () => {
    const [late, swept] = [newSub(), newSub()];
    await accountFor(late, "100.64.12.40");
    await accountFor(swept, "100.64.12.41");
    const week = 7 * 24 * 3_600_000;
    for (const s of [late, swept]) {
      await db.update(firstPasswords).set({ createdAt: new Date(Date.now() - week - 60_000) }).where(and(eq(firstPasswords.tenantId, s.tenant), eq(firstPasswords.subscriberId, s.id)));
    }
    expect(await firstPassword(late)).toMatchObject({ status: 410, body: { reason: "expired" } });
    await expireFirstPasswords(db, week); // what the service's sweep runs every minute (another radius process may have run it first)
    expect(await firstPasswordRow(swept)).toMatchObject({ password: null, goneReason: "expired" });
    expect(await firstPassword(swept)).toMatchObject({ status: 410, body: { reason: "expired" } });
  });

  it("a rotation before the first retrieval drops the first password (410 rotated)", async () => {
    const r = newSub();
    await accountFor(r, "100.64.12.42");
    const rotated = await rotate(r);
    expect(rotated.status).toBe(200);
    expect(await firstPassword(r)).toMatchObject({ status: 410, body: { reason: "rotated" } });
    expect((await authenticate(r.username, rotated.body.password ?? "")).code).toBe("Access-Accept");
  });

  it("rotating the credentials invalidates the previous password", async () => {
    const first = (await rotate(a)).body.password ?? "";
    const second = (await rotate(a)).body.password ?? "";
    expect(second).not.toBe(first);
    expect((await authenticate(a.username, first)).code).toBe("Access-Reject");
    expect((await authenticate(a.username, second)).code).toBe("Access-Accept");
  });

  it("another tenant's token can neither read nor rotate the subscriber's credentials: 404, as for no account", async () => {
    const f = newSub();
    await accountFor(f, "100.64.12.43");
    const none = newSub();
    const noAccount = await firstPassword(none);
    expect(noAccount.status).toBe(404);
    expect(await rotate(none)).toEqual(noAccount);
    expect(await firstPassword(f, otherTenant)).toEqual(noAccount);
    expect(await rotate(f, otherTenant)).toEqual(noAccount);
    // Neither touched it: the first password is still there for the subscriber's own tenant, and works.
    const mine = await firstPassword(f);
    expect(mine.status).toBe(200);
    expect((await authenticate(f.username, mine.body.password ?? "")).code).toBe("Access-Accept");
  });

  it("applies an IpAllocated delivered twice once, and a second allocation creates no second account", async () => {
    const again = ipAllocated(a, { ...dualStack, ipv4: "100.64.99.99" });
    await publish(aAllocated, again); // the same event redelivered, then a second allocation
    await consumed(again);
    expect(lifecycle.about(a.id).filter((m) => m.type === "RadiusAccountCreated")).toHaveLength(1);
    const { check, reply, groups } = await rowsOf(a.username);
    expect(check).toHaveLength(1);
    expect(groups).toHaveLength(1);
    expect(reply.find((r) => r.attribute === "Framed-IP-Address")?.value).toBe("100.64.12.34");
  });

  it("VLAN / QinQ data reaches RADIUS: a single VLAN from the order (profile skipped) gives tag 1 only, IPv4 only", async () => {
    const b = newSub();
    const single = network({ service_vlan: 250 });
    await publish(
      subscriberCreated(b, single),
      event(b, "NetworkProfileSkipped", { code: "consumption_disabled", reason: "profile consumption disabled", network: single }),
      ipAllocated(b, { ipv4: "100.64.12.35", ipv6: null, ipv6_prefix: null, source: "dynamic" }),
    );
    await lifecycle.waitForType(b.id, "RadiusAccountCreated");
    const password = (await firstPassword(b)).body.password ?? "";
    const accept = await authenticate(b.username, password);
    expect(accept.code).toBe("Access-Accept");
    expect(accept.attributes).toEqual({
      "Framed-IP-Address": "100.64.12.35",
      "Tunnel-Type:1": "VLAN",
      "Tunnel-Medium-Type:1": "IEEE-802",
      "Tunnel-Private-Group-Id:1": "250",
      "Mikrotik-Rate-Limit": "50M/100M",
      "WISPr-Bandwidth-Max-Down": "100000000",
      "WISPr-Bandwidth-Max-Up": "50000000",
    });
  });

  it("no RADIUS plan for the tenant's plan: RadiusAccountCreationFailed plan_not_configured, no rows; the rollback then has nothing to undo at radius", async () => {
    const c = newSub();
    const trigger = ipAllocated(c, { ipv4: "100.64.12.36", ipv6: null, ipv6_prefix: null, source: "dynamic" });
    await publish(subscriberCreated(c, network({ service_vlan: 100 }), "no-such-plan"), trigger);
    const failed = await lifecycle.waitForType(c.id, "RadiusAccountCreationFailed");
    expect(failed.data).toEqual({ code: "plan_not_configured", reason: `no RADIUS plan configured for plan no-such-plan of tenant ${tenant}` });
    expect(failed.meta).toMatchObject({ causation_id: trigger.meta.event_id, correlation_id: c.order });

    // The subscriber service turns the failure into SubscriberProvisioningFailed; the earlier
    // steps (ipam, profile) undo their work from it. radius did nothing, so it undoes nothing.
    const failure = event(c, "SubscriberProvisioningFailed", { code: null, order_id: c.order, step: "radius", reason: failed.data.reason });
    await publish(failure);
    await consumed(failure);
    expect(lifecycle.about(c.id).map((m) => m.type)).not.toContain("RadiusAccountDeleted");
    const rows = await rowsOf(c.username);
    expect([rows.check, rows.reply, rows.groups].map((r) => r.length)).toEqual([0, 0, 0]);
    expect(await db.select().from(accounts).where(and(eq(accounts.tenantId, tenant), eq(accounts.subscriberId, c.id)))).toEqual([]);
  });

  it("compensation: after SubscriberProvisioningFailed with no later step succeeded, RadiusAccountDeleted, rows gone, Access-Reject", async () => {
    const d = newSub();
    await publish(subscriberCreated(d, qinq), profileCreated(d, qinq), ipAllocated(d, { ...dualStack, ipv4: "100.64.12.37" }));
    const created = await lifecycle.waitForType(d.id, "RadiusAccountCreated");
    const password = (await firstPassword(d)).body.password ?? "";
    expect((await authenticate(d.username, password)).code).toBe("Access-Accept");

    // The ONU step failed: the subscriber service reports it after our RadiusAccountCreated.
    await publish(event(d, "SubscriberProvisioningFailed", { code: null, order_id: d.order, step: "olt", reason: "ONU not discovered" }));
    const deleted = await lifecycle.waitForType(d.id, "RadiusAccountDeleted");
    expect(deleted.data).toEqual({ username: d.username, reason: "rollback" });
    expect(deleted.meta.correlation_id).toBe(d.order);
    expect(lifecycle.about(d.id).indexOf(created)).toBeLessThan(lifecycle.about(d.id).indexOf(deleted));

    const rows = await rowsOf(d.username);
    expect([rows.check, rows.reply, rows.groups].map((r) => r.length)).toEqual([0, 0, 0]);
    expect((await authenticate(d.username, password)).code).toBe("Access-Reject");
    expect((await rotate(d)).status).toBe(404);
    expect((await firstPassword(d)).status).toBe(404);
    expect(await firstPasswordRow(d)).toBeUndefined();

    // Idempotent: our own RadiusAccountDeleted comes back and a second failure report changes nothing.
    const again = event(d, "SubscriberProvisioningFailed", { code: null, order_id: d.order, step: "olt", reason: "reported twice" });
    await publish(again);
    await consumed(again);
    expect(lifecycle.about(d.id).filter((m) => m.type === "RadiusAccountDeleted")).toHaveLength(1);
  });

  it("an IpAllocated with an address that is none goes to the DLQ as invalid, and the service goes on", async () => {
    const e = newSub();
    const dlq = await collector(dlqTopic("radius"), `test-radius-dlq-${run}`);
    const bad = ipAllocated(e, { ipv4: "300.64.12.38", ipv6: null, ipv6_prefix: null, source: "dynamic" });
    const good = ipAllocated(e, { ipv4: "100.64.12.38", ipv6: null, ipv6_prefix: null, source: "dynamic" });
    await publish(subscriberCreated(e, network({ service_vlan: 100 })), bad, good);
    await lifecycle.waitForType(e.id, "RadiusAccountCreated");
    await waitUntil(() => dlq.seen.some((s) => s.message.key?.toString() === e.id), 30_000, () => "the bad IpAllocated on radius.dlq.v1");
    await dlq.stop();
    const poisoned = dlq.seen.find((s) => s.message.key?.toString() === e.id);
    expect(header(poisoned!.message, "dlq-code")).toBe("invalid");
    expect(header(poisoned!.message, "dlq-reason")).toContain("300.64.12.38");
    expect(lifecycle.about(e.id).map((m) => m.type)).not.toContain("RadiusAccountCreationFailed");
  });

  it("no event on the topic and no log line carries a password or a token", async () => {
    expect(passwords.length).toBeGreaterThanOrEqual(6);
    // The capture works: the seed's line for our first subscriber is in it, and the retrievals by token id.
    const logs = logged.join("");
    expect(logs).toContain(`Created RADIUS account: ${a.username} (IPv4: 100.64.12.34, IPv6: 2001:db8:12::34, VLAN: 100.1000, IPv6 PD: 2001:db8:1200::/56)`);
    expect(logs).toContain("RADIUS credentials rotated");
    expect(logs).toContain("RADIUS first password retrieved");
    const tokenId = (await firstPasswordRow(a))?.retrievedBy ?? "";
    expect(logs).toContain(`"token_id":"${tokenId}"`);
    const onTopic = lifecycle.seen.map((s) => `${s.raw.value?.toString("latin1") ?? ""}${JSON.stringify(s.message)}`).join("\n");
    for (const p of passwords) {
      expect(onTopic).not.toContain(p);
      expect(logs).not.toContain(p);
    }
    for (const t of tokens.values()) {
      expect(logs).not.toContain(t.slice(21)); // the secret part of every token used
      expect(onTopic).not.toContain(t.slice(21));
    }
  });
});
