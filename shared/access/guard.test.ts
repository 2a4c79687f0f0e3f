// The token check in front of every service's routes, its cache, and the tenant routing behind it.
import type { IncomingMessage } from "node:http";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { authenticator, guardRoutes, tokenCache, type ApiRoutes } from "./guard.js";
import { tenantRoutes, type TenantRoute } from "./tenant-routes.js";
import { mintToken, type Caller, type TokenRecord } from "./tokens.js";

const requestWith = (authorization?: string, method = "GET"): IncomingMessage => ({ method, headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

/** Every line logged, as parsed JSON, plus the raw text. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const minted = mintToken();
const recordA: TokenRecord = { id: minted.id, scope: { kind: "tenant", tenantId: "isp-a" }, name: "noc", tokenHash: minted.tokenHash, createdAt: new Date(0), expiresAt: null, revokedAt: null };

describe("the token cache", () => {
  it("reads a token id once per ttl, and again after it", async () => {
    let clock = 0;
    const reads: string[] = [];
    const cached = tokenCache(async (id) => (reads.push(id), null), { ttlMs: 5_000, now: () => clock });
    await cached("a");
    await cached("a");
    clock = 4_999;
    await cached("a");
    expect(reads).toEqual(["a"]);
    clock = 5_000;
    await cached("a");
    expect(reads).toEqual(["a", "a"]);
  });

  it("shares one read between concurrent requests and forgets a failed read", async () => {
    let calls = 0;
    let fail = true;
    const cached = tokenCache(
      async () => {
        calls++;
        if (fail) throw new Error("database away");
        return recordA;
      },
      { ttlMs: 60_000, now: () => 0 },
    );
    const both = await Promise.allSettled([cached("a"), cached("a")]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toBe(1);
    fail = false;
    expect(await cached("a")).toBe(recordA);
    expect(calls).toBe(2);
  });

  it("keeps at most `max` ids, dropping the one read longest ago", async () => {
    const reads: string[] = [];
    const cached = tokenCache(async (id) => (reads.push(id), null), { ttlMs: 60_000, max: 2, now: () => 0 });
    for (const id of ["a", "b", "c", "b", "a"]) await cached(id);
    expect(reads).toEqual(["a", "b", "c", "a"]);
  });
});

describe("the guard", () => {
  const routes: ApiRoutes = async (_req, url, caller) => ({ status: 200, body: { path: url.pathname, caller } });
  const guard = (logger = capturingLogger().logger) => guardRoutes(routes, authenticator(async (id) => (id === recordA.id ? recordA : null)), logger);
  const url = new URL("http://local/tenants/isp-a/subscribers/s1");

  it("answers 401 with a JSON error and a Bearer challenge, without a valid token", async () => {
    const g = guard();
    for (const [header, reason] of [[undefined, "missing"], ["Bearer nope", "malformed"], [`Bearer ${mintToken().token}`, "unknown"]] as const) {
      const reply = await g(requestWith(header), url);
      expect(reply?.status, header).toBe(401);
      expect(reply?.body).toMatchObject({ error: expect.stringContaining("Bearer"), reason });
      expect(reply?.headers?.["www-authenticate"]).toMatch(/^Bearer /);
    }
  });

  it("answers 401 even where the service has no routes", async () => {
    const g = guardRoutes(undefined, authenticator(async () => null), capturingLogger().logger);
    expect((await g(requestWith(), new URL("http://local/anything")))?.status).toBe(401);
  });

  it("runs the routes with the caller, and logs the token id at debug, never the token", async () => {
    const log = capturingLogger();
    const reply = await guard(log.logger)(requestWith(`Bearer ${minted.token}`), url);
    expect(reply).toEqual({ status: 200, body: { path: url.pathname, caller: { tokenId: recordA.id, scope: recordA.scope } } });
    expect(log.parsed()).toContainEqual(expect.objectContaining({ level: 20, token_id: recordA.id, path: url.pathname, method: "GET" }));
    await guard(log.logger)(requestWith(`Bearer fpt_${recordA.id}_${"0".repeat(64)}`), url);
    expect(log.parsed()).toContainEqual(expect.objectContaining({ level: 30, token_id: recordA.id, reason: "unknown" }));
    expect(log.lines.join("")).not.toContain(minted.token.slice(21));
  });

  it("answers 503 when the token store is away, not 401 or 500", async () => {
    const away = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const g = guardRoutes(routes, authenticator(async () => Promise.reject(away)), capturingLogger().logger);
    expect((await g(requestWith(`Bearer ${minted.token}`), url))?.status).toBe(503);
  });
});

describe("tenant routes", () => {
  const a: Caller = { tokenId: "ta", scope: { kind: "tenant", tenantId: "isp-a" } };
  const all: Caller = { tokenId: "root", scope: { kind: "all" } };
  const ran: string[] = [];
  const route = (method: "GET" | "POST", path: RegExp): TenantRoute => ({
    method,
    path,
    notFound: "subscriber not found",
    handle: async ({ tenant, params }) => (ran.push(`${method} ${tenant} ${params.join(",")}`), { status: 200, body: { tenant, params } }),
  });
  const table = tenantRoutes([route("GET", /^\/subscribers\/([^/]+)$/), route("POST", /^\/subscribers\/([^/]+)\/rotate$/)]);
  const call = (caller: Caller, path: string, method = "GET") => table(requestWith(undefined, method), new URL(`http://local${path}`), caller);

  it("runs the route of the caller's own tenant with the decoded parameters", async () => {
    expect(await call(a, "/tenants/isp-a/subscribers/s%201")).toEqual({ status: 200, body: { tenant: "isp-a", params: ["s 1"] } });
  });

  it("answers another tenant with the route's own 404, before the route runs", async () => {
    ran.length = 0;
    expect(await call(a, "/tenants/isp-b/subscribers/s1")).toEqual({ status: 404, body: { error: "subscriber not found" } });
    expect(await call(a, "/tenants/isp-b/subscribers/s1/rotate", "POST")).toEqual({ status: 404, body: { error: "subscriber not found" } });
    expect(await call(a, "/tenants/isp-b/subscribers/s1", "POST")).toEqual({ status: 404, body: { error: "subscriber not found" } });
    expect(ran).toEqual([]);
  });

  it("lets an all-tenants token into any tenant", async () => {
    expect((await call(all, "/tenants/isp-b/subscribers/s1"))?.status).toBe(200);
  });

  it("answers 405 with Allow for a known path and another method; nothing for an unknown path", async () => {
    expect(await call(a, "/tenants/isp-a/subscribers/s1", "POST")).toEqual({ status: 405, body: { error: "method not allowed: use GET" }, headers: { allow: "GET" } });
    expect(await call(a, "/tenants/isp-a/pools")).toBeUndefined();
    expect(await call(a, "/subscribers/s1")).toBeUndefined();
    expect(await call(a, "/tenants/%E0%A4%A/subscribers/s1")).toBeUndefined();
  });
});
