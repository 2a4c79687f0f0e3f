// Operator tokens on the real stack, the seven services in-process: every route of every service
// refuses a request without a valid token (401), /healthz and /readyz stay open, a token of one
// tenant gets from another tenant's routes exactly what a subscriber that does not exist gets
// (404, the list too), a revoked or expired token is refused within the cache window, the first
// RADIUS password is given once (then 410), and no token or password reaches a log line or an
// event. Tokens are made by the CLI (npm run token), as an operator makes them.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, provisionOrder, type Crm } from "../../scripts/crm.js";
import { authenticate } from "../../scripts/radclient.js";
import { repoRoot } from "../../scripts/run-services.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { runService, type RunningService } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { definition as billing } from "../../services/billing/service.js";
import { definition as ipam } from "../../services/ipam/service.js";
import { definition as olt } from "../../services/olt/service.js";
import { definition as profile } from "../../services/profile/service.js";
import { definition as projection } from "../../services/projection/service.js";
import { definition as radius } from "../../services/radius/service.js";
import { definition as subscriber } from "../../services/subscriber/service.js";
import { runId, testEnv } from "../support/env.js";
import { waitUntil } from "../support/kafka.js";
import { nodeArgs } from "../support/process.js";
import { bearer, tokenFor } from "../support/tokens.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `acc-${run}`;
const otherTenant = `acc-${run}-b`;
/** Short, so the revocation test waits little; the default is 5 s. */
const cacheMs = 2_000;

// Every line the in-process services log (pino writes to fd 1 through fs).
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

const definitions = { subscriber, profile, ipam, radius, olt, billing, projection };
type Name = keyof typeof definitions;
const services = new Map<Name, RunningService>();
let crm: Crm;
let status: Watch;
let lifecycle: Watch;
let subscriberId: string;
/** Every token this file used: none may appear in a log line. */
const tokens: string[] = [];
const passwords: string[] = [];

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeArgs("scripts/token.ts"), ...args], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: testEnv.DATABASE_URL }, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A token made by `npm run token -- create`: the token alone on stdout. */
function cliToken(...args: string[]): { token: string; id: string } {
  const r = cli("create", ...args);
  expect(r.status, r.stderr).toBe(0);
  const token = r.stdout.trim();
  expect(token).toMatch(/^fpt_[0-9a-f]{16}_[0-9a-f]{64}$/);
  tokens.push(token);
  return { token, id: token.slice(4, 20) };
}

async function call(name: Name, path: string, options: { token?: string; method?: string; authorization?: string } = {}) {
  const headers = options.authorization !== undefined ? { authorization: options.authorization } : options.token ? bearer(options.token) : {};
  const res = await fetch(`http://127.0.0.1:${services.get(name)?.health.port}${path}`, { method: options.method ?? "GET", headers });
  const body = (await res.json()) as Record<string, unknown>;
  if (typeof body.password === "string") passwords.push(body.password);
  return { status: res.status, body };
}

/** Every route of every service (olt and billing have none: any path), for `tenantId` and `id`. */
const routes = (tenantId: string, id: string): { name: Name; path: string; method?: string }[] => [
  { name: "subscriber", path: `/tenants/${tenantId}/subscribers/${id}` },
  { name: "profile", path: `/tenants/${tenantId}/subscribers/${id}/network-profile` },
  { name: "ipam", path: `/tenants/${tenantId}/pools` },
  { name: "radius", path: `/tenants/${tenantId}/subscribers/${id}/radius-credentials` },
  { name: "radius", path: `/tenants/${tenantId}/subscribers/${id}/radius-credentials/rotate`, method: "POST" },
  { name: "olt", path: `/tenants/${tenantId}/onus` },
  { name: "billing", path: `/tenants/${tenantId}/services` },
  { name: "projection", path: `/tenants/${tenantId}/subscribers/${id}/service-metadata` },
  { name: "projection", path: `/tenants/${tenantId}/subscribers?status=active` },
];

let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [{ planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 }],
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.69.0.0/28", gateway: "100.69.0.1", isDefault: true }],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [{ port: "0/1/1", serial: `ACC${run.slice(-8).toUpperCase()}` }] }],
    },
  ]);
  const env = { ...testEnv, LOG_LEVEL: "info", ACCESS_TOKEN_CACHE_MS: String(cacheMs), DEADLINE_SWEEP_TENANTS: tenant };
  for (const [name, def] of Object.entries(definitions) as [Name, () => Parameters<typeof runService>[0]][]) {
    // radius logs at debug: each authenticated request's token id is a debug line.
    services.set(name, await runService(def(), { ...env, ...(name === "radius" ? { LOG_LEVEL: "debug" } : {}) }));
  }
  tokenA = cliToken("--tenant", tenant, "--name", `noc-${run}`).token;
  tokenB = cliToken("--tenant", otherTenant, "--name", `noc-${run}-b`).token;
  crm = await connectCrm(testEnv);
  status = await watch(topics.orderStatus);
  lifecycle = await watch(topics.lifecycle);
  const order = provisionOrder(tenant, {
    order_id: `acc-${run}`, crm_reference: `c-${run}`, first_name: "Ada", last_name: "Byron", email: "ada@example.com", service_address: "1 Token Street",
    connection_type: "ftth", service_plan_id: "home-100", onu_serial: `ACC${run.slice(-8).toUpperCase()}`, service_vlan: 130, inner_vlan: 1300, qinq_enabled: true, ipv6_assignment_mode: "none",
  });
  await crm.place(order);
  const [outcome] = (await status.waitFor(order.meta.correlation_id, (ms) => ms.some((m) => m.type === "OrderCompleted" || m.type === "OrderFailed"), 90_000)).filter((m) => m.type !== "OrderAccepted");
  expect(outcome?.type).toBe("OrderCompleted");
  subscriberId = (outcome as Message<"OrderCompleted">).data.subscriber_id;
  const path = `/tenants/${tenant}/subscribers/${subscriberId}/service-metadata`;
  await waitUntil(async () => (await call("projection", path, { token: tokenA })).body.status === "active", 30_000, () => `the projection of ${subscriberId} active`);
});

afterAll(async () => {
  await status?.stop();
  await lifecycle?.stop();
  await crm?.close();
  for (const s of services.values()) await s.stop();
  fs.write = write;
  fs.writeSync = writeSync;
});

describe("operator tokens", () => {
  it("/healthz and /readyz answer without a token on every service", async () => {
    for (const name of Object.keys(definitions) as Name[]) {
      expect((await call(name, "/healthz")).status, name).toBe(200);
      expect((await call(name, "/readyz")).status, name).toBe(200);
    }
  });

  it("every route of every service answers 401 with a JSON error without a valid token", async () => {
    const unknown = `fpt_${"0".repeat(16)}_${"1".repeat(64)}`;
    const forged = `fpt_${tokenA.slice(4, 20)}_${"2".repeat(64)}`; // a real id, a wrong secret
    const refusals = [{}, { authorization: "" }, { authorization: `Basic ${tokenA}` }, { authorization: "Bearer not-a-token" }, { token: unknown }, { token: forged }];
    for (const route of routes(tenant, subscriberId)) {
      for (const how of refusals) {
        const { status, body } = await call(route.name, route.path, { ...how, ...(route.method ? { method: route.method } : {}) });
        expect(status, `${route.name} ${route.path} ${JSON.stringify(how).slice(0, 40)}`).toBe(401);
        expect(body.error).toEqual(expect.stringContaining("Bearer"));
      }
    }
  });

  it("a tenant's token reads its own tenant", async () => {
    expect(await call("subscriber", `/tenants/${tenant}/subscribers/${subscriberId}`, { token: tokenA })).toMatchObject({ status: 200, body: { subscriber_id: subscriberId, status: "active" } });
    expect((await call("profile", `/tenants/${tenant}/subscribers/${subscriberId}/network-profile`, { token: tokenA })).status).toBe(200);
    expect((await call("ipam", `/tenants/${tenant}/pools`, { token: tokenA })).body.pools).toEqual([expect.objectContaining({ name: "v4" })]);
    const list = await call("projection", `/tenants/${tenant}/subscribers?status=active`, { token: tokenA });
    expect((list.body.items as { subscriber_id: string }[]).map((i) => i.subscriber_id)).toEqual([subscriberId]);
  });

  it("another tenant's token gets exactly what a subscriber that does not exist gets, on every route; nothing changes", async () => {
    const nobody = "00000000-0000-4000-8000-000000000000";
    for (const route of routes(tenant, subscriberId)) {
      const method = route.method ? { method: route.method } : {};
      const foreign = await call(route.name, route.path, { token: tokenB, ...method });
      expect(foreign.status, `${route.name} ${route.path}`).toBe(404);
      // What the tenant's own token gets for a subscriber that does not exist (the list and the
      // pools, which name none, answer as their unknown path does).
      const missingPath = route.path.includes(subscriberId) ? route.path.replace(subscriberId, nobody) : `/tenants/${tenant}/subscribers/${nobody}/nothing`;
      const missing = route.path.includes("?") ? await call("projection", `/tenants/${tenant}/subscribers/${nobody}/service-metadata`, { token: tokenA }) : await call(route.name, missingPath, { token: tokenA, ...method });
      expect(foreign, `${route.name} ${route.path}`).toEqual(missing);
    }
    // The rotation asked for by the other tenant did nothing: the first password is still held.
  });

  it("the first RADIUS password is given once to the tenant's token, works with FreeRADIUS, then 410 Gone with no password", async () => {
    const path = `/tenants/${tenant}/subscribers/${subscriberId}/radius-credentials`;
    const first = await call("radius", path, { token: tokenA });
    expect(first.status).toBe(200);
    const { username, password } = first.body as { username: string; password: string };
    expect((await authenticate(username, password)).code).toBe("Access-Accept");
    const again = await call("radius", path, { token: tokenA });
    expect(again).toMatchObject({ status: 410, body: { username, reason: "retrieved" } });
    expect(again.body.password).toBeUndefined();
    // Rotation stays, for the tenant's token: a new password, returned once.
    const rotated = await call("radius", `${path}/rotate`, { token: tokenA, method: "POST" });
    expect(rotated.status).toBe(200);
    expect((await authenticate(username, rotated.body.password as string)).code).toBe("Access-Accept");
    expect((await authenticate(username, password)).code).toBe("Access-Reject");
  });

  it("a revoked token is refused by every service once the cache window has passed; the list shows it revoked, never a token", async () => {
    const { token, id } = cliToken("--tenant", tenant, "--name", `revoke-me-${run}`, "--expires-in", "1d");
    for (const route of routes(tenant, subscriberId).filter((r) => !r.method && !r.path.includes("radius"))) {
      expect((await call(route.name, route.path, { token })).status, route.path).not.toBe(401);
    }
    const revoked = cli("revoke", "--id", id);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`token ${id} revoked`);
    await new Promise((r) => setTimeout(r, cacheMs + 100));
    for (const route of routes(tenant, subscriberId)) {
      const refused = await call(route.name, route.path, { token, ...(route.method ? { method: route.method } : {}) });
      expect(refused, route.path).toMatchObject({ status: 401, body: { reason: "revoked" } });
    }
    const list = cli("list", "--tenant", tenant);
    expect(list.status, list.stderr).toBe(0);
    const row = list.stdout.split("\n").find((l) => l.startsWith(id))?.split("\t");
    expect(row?.slice(0, 3)).toEqual([id, tenant, `revoke-me-${run}`]);
    expect(row?.[4]).toMatch(/^\d{4}-\d\d-\d\dT/); // expires
    expect(row?.[5]).toMatch(/^\d{4}-\d\d-\d\dT/); // revoked
    for (const t of tokens) expect(list.stdout).not.toContain(t.slice(21));
    expect(cli("revoke", "--id", "0000000000000000").status).not.toBe(0);
  });

  it("an expired token is refused (401 expired)", async () => {
    const expiresAt = new Date(Date.now() + 3_000);
    const token = await tokenFor(tenant, { expiresAt });
    tokens.push(token);
    const path = `/tenants/${tenant}/subscribers/${subscriberId}`;
    expect((await call("subscriber", path, { token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 50));
    expect(await call("subscriber", path, { token })).toMatchObject({ status: 401, body: { reason: "expired" } });
  });

  it("an all-tenants token (--all-tenants) sees every tenant", async () => {
    const { token } = cliToken("--all-tenants", "--name", `root-${run}`);
    expect((await call("subscriber", `/tenants/${tenant}/subscribers/${subscriberId}`, { token })).status).toBe(200);
    expect((await call("projection", `/tenants/${otherTenant}/subscribers`, { token })).body).toMatchObject({ tenant_id: otherTenant, items: [] });
  });

  it("logs the token id of each authenticated request at debug, and no token or password in any log line or event", async () => {
    const logs = logged.join("");
    const lines = logs.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: "authenticated request", token_id: tokenA.slice(4, 20), service: "radius" }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, reason: "unknown", token_id: tokenA.slice(4, 20) })); // the forged one: its id, never its secret
    expect(tokens.length).toBeGreaterThanOrEqual(5);
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    const onTopic = lifecycle.seen.map((s) => `${s.raw.value?.toString("latin1") ?? ""}${JSON.stringify(s.message)}`).join("\n");
    for (const t of tokens) {
      expect(logs).not.toContain(t.slice(21));
      expect(onTopic).not.toContain(t.slice(21));
    }
    for (const p of passwords) {
      expect(logs).not.toContain(p);
      expect(onTopic).not.toContain(p);
    }
  });
});
