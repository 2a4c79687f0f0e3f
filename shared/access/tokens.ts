// Operator tokens: what one looks like, how it is checked, what it may see. No I/O here; the
// store (store.ts) keeps the records, the guard (guard.ts) asks both on each request.
//
// A token is `fpt_<id>_<secret>`: the id (8 random bytes, hex) names the record and may be
// logged and listed; the secret (32 random bytes, hex) is shown once, at creation. Only the
// SHA-256 of the whole token is stored: with 256 random bits a slow password hash buys nothing.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Which tenants a token sees: one, or every tenant (an operator's super-user). */
export type TenantScope = { readonly kind: "tenant"; readonly tenantId: string } | { readonly kind: "all" };

export interface TokenRecord {
  readonly id: string;
  readonly scope: TenantScope;
  readonly name: string;
  /** Hex SHA-256 of the whole token. */
  readonly tokenHash: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

/** Who is calling: the token's id (for the logs, never the token) and what it may see. */
export interface Caller {
  readonly tokenId: string;
  readonly scope: TenantScope;
}

const tokenPattern = /^fpt_([0-9a-f]{16})_([0-9a-f]{64})$/;

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** A new token and what is stored of it. */
export function mintToken(): { readonly id: string; readonly token: string; readonly tokenHash: string } {
  const id = randomBytes(8).toString("hex");
  const token = `fpt_${id}_${randomBytes(32).toString("hex")}`;
  return { id, token, tokenHash: hashToken(token) };
}

export type Presented = { readonly ok: true; readonly id: string; readonly token: string } | { readonly ok: false; readonly reason: "missing" | "malformed" };

/** The token of an `Authorization: Bearer <token>` header. */
export function presentedToken(authorization: string | undefined): Presented {
  if (authorization === undefined || authorization.trim() === "") return { ok: false, reason: "missing" };
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  const token = m?.[1];
  const parts = token === undefined ? null : tokenPattern.exec(token);
  if (!token || !parts) return { ok: false, reason: "malformed" };
  return { ok: true, id: parts[1] ?? "", token };
}

export type Refusal = "missing" | "malformed" | "unknown" | "revoked" | "expired";
export type Verdict = { readonly ok: true; readonly caller: Caller } | { readonly ok: false; readonly reason: Refusal };

/**
 * Whether `token` is the live token of `record`. The stored digest is compared in constant time;
 * a wrong secret under a real id reads as an unknown token.
 */
export function checkToken(record: TokenRecord | null, token: string, now: Date): Verdict {
  if (!record) return { ok: false, reason: "unknown" };
  const stored = Buffer.from(record.tokenHash, "hex");
  const given = Buffer.from(hashToken(token), "hex");
  if (stored.length !== given.length || !timingSafeEqual(stored, given)) return { ok: false, reason: "unknown" };
  if (record.revokedAt && record.revokedAt.getTime() <= now.getTime()) return { ok: false, reason: "revoked" };
  if (record.expiresAt && record.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: "expired" };
  return { ok: true, caller: { tokenId: record.id, scope: record.scope } };
}

/** Whether the caller may see `tenantId`. */
export const mayAccess = (caller: Caller, tenantId: string): boolean => caller.scope.kind === "all" || caller.scope.tenantId === tenantId;

const units = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `90d`, `12h`, `30m`, `2w`, `45s` in milliseconds; null when it is not one of those. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n * units[m[2] as keyof typeof units] : null;
}

export const describeScope = (scope: TenantScope): string => (scope.kind === "all" ? "*" : scope.tenantId);
