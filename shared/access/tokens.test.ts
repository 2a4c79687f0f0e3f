// Operator tokens: their shape, the check against a stored record, the tenant scope, durations.
import { describe, expect, it } from "vitest";
import { checkToken, hashToken, mayAccess, mintToken, parseDuration, presentedToken, type TokenRecord } from "./tokens.js";

const now = new Date("2026-06-01T12:00:00Z");
const minted = mintToken();
const record = (over: Partial<TokenRecord> = {}): TokenRecord => ({
  id: minted.id,
  scope: { kind: "tenant", tenantId: "isp-a" },
  name: "noc-alice",
  tokenHash: minted.tokenHash,
  createdAt: new Date("2026-05-01T00:00:00Z"),
  expiresAt: null,
  revokedAt: null,
  ...over,
});

describe("minted tokens", () => {
  it("carry their id and 32 random bytes; only their SHA-256 is stored", () => {
    const other = mintToken();
    expect(minted.token).toMatch(/^fpt_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(minted.token.slice(4, 20)).toBe(minted.id);
    expect(other.token).not.toBe(minted.token);
    expect(other.id).not.toBe(minted.id);
    expect(minted.tokenHash).toBe(hashToken(minted.token));
    expect(minted.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(minted.tokenHash).not.toContain(minted.token.slice(21));
  });
});

describe("the Authorization header", () => {
  it("is missing when absent or blank", () => {
    expect(presentedToken(undefined)).toEqual({ ok: false, reason: "missing" });
    expect(presentedToken("  ")).toEqual({ ok: false, reason: "missing" });
  });

  it("is malformed when it is not `Bearer <token of our shape>`", () => {
    for (const h of [minted.token, `Basic ${minted.token}`, "Bearer", "Bearer abc", `Bearer ${minted.token}x`, `Bearer ${minted.token.toUpperCase()}`, `Bearer ${minted.token} extra`]) {
      expect(presentedToken(h), h).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("names the token's id when well formed (any case of `Bearer`)", () => {
    expect(presentedToken(`Bearer ${minted.token}`)).toEqual({ ok: true, id: minted.id, token: minted.token });
    expect(presentedToken(`bearer ${minted.token}`)).toEqual({ ok: true, id: minted.id, token: minted.token });
  });
});

describe("checking a token against its record", () => {
  it("accepts the live token and names the caller by id and scope", () => {
    expect(checkToken(record(), minted.token, now)).toEqual({ ok: true, caller: { tokenId: minted.id, scope: { kind: "tenant", tenantId: "isp-a" } } });
  });

  it("refuses an id with no record as unknown", () => {
    expect(checkToken(null, minted.token, now)).toEqual({ ok: false, reason: "unknown" });
  });

  it("refuses a wrong secret under a real id as unknown", () => {
    const forged = `fpt_${minted.id}_${"0".repeat(64)}`;
    expect(checkToken(record(), forged, now)).toEqual({ ok: false, reason: "unknown" });
  });

  it("refuses a revoked token, and an expired one from its expiry on", () => {
    expect(checkToken(record({ revokedAt: new Date("2026-05-30T00:00:00Z") }), minted.token, now)).toEqual({ ok: false, reason: "revoked" });
    expect(checkToken(record({ expiresAt: now }), minted.token, now)).toEqual({ ok: false, reason: "expired" });
    expect(checkToken(record({ expiresAt: new Date(now.getTime() + 1) }), minted.token, now).ok).toBe(true);
  });
});

describe("tenant scope", () => {
  it("a tenant's token sees that tenant only; an all-tenants token sees every one", () => {
    const a = { tokenId: "t1", scope: { kind: "tenant", tenantId: "isp-a" } } as const;
    const all = { tokenId: "t2", scope: { kind: "all" } } as const;
    expect(mayAccess(a, "isp-a")).toBe(true);
    expect(mayAccess(a, "isp-b")).toBe(false);
    expect(mayAccess(a, "ISP-A")).toBe(false);
    expect(mayAccess(all, "isp-b")).toBe(true);
  });
});

describe("durations", () => {
  it("reads a whole number and a unit", () => {
    expect(parseDuration("90d")).toBe(90 * 86_400_000);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("45s")).toBe(45_000);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
  });

  it("refuses anything else", () => {
    for (const s of ["", "90", "d", "0d", "-1d", "1.5d", "5y", "1d2h"]) expect(parseDuration(s), s).toBeNull();
  });
});
