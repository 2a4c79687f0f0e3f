// Operator tokens in PostgreSQL (schema `access`): created, revoked and listed by the token CLI,
// looked up by id by every service's guard. The token itself is never stored or returned here
// after creation.
import { fileURLToPath } from "node:url";
import { asc, eq } from "drizzle-orm";
import { migrateSchema, type Db, type Sql } from "../db.js";
import { schemaName, tokens } from "./schema.js";
import { mintToken, type TenantScope, type TokenRecord } from "./tokens.js";

export const accessMigrations = fileURLToPath(new URL("./migrations", import.meta.url));

/** Applies the access schema's migrations (every service at start, the CLI, the test helper). */
export const migrateAccess = (databaseUrl: string): Promise<void> => migrateSchema(databaseUrl, schemaName, accessMigrations);

type Row = typeof tokens.$inferSelect;

const recordOf = (r: Pick<Row, "id" | "tenantId" | "allTenants" | "name" | "tokenHash" | "createdAt" | "expiresAt" | "revokedAt">): TokenRecord => ({
  id: r.id,
  scope: r.allTenants || r.tenantId === null ? { kind: "all" } : { kind: "tenant", tenantId: r.tenantId },
  name: r.name,
  tokenHash: r.tokenHash,
  createdAt: r.createdAt,
  expiresAt: r.expiresAt,
  revokedAt: r.revokedAt,
});

export interface NewToken {
  readonly scope: TenantScope;
  readonly name: string;
  readonly expiresAt: Date | null;
}

/** Creates a token: the record, and the token itself, which the caller shows once. */
export async function createToken(db: Db, t: NewToken): Promise<{ readonly record: Omit<TokenRecord, "tokenHash">; readonly token: string }> {
  const { id, token, tokenHash } = mintToken();
  const [row] = await db
    .insert(tokens)
    .values({ id, tenantId: t.scope.kind === "tenant" ? t.scope.tenantId : null, allTenants: t.scope.kind === "all", name: t.name, tokenHash, expiresAt: t.expiresAt })
    .returning();
  if (!row) throw new Error("token insert returned no row");
  const { tokenHash: _hash, ...record } = recordOf(row);
  return { record, token };
}

export type Revoked = "revoked" | "already-revoked" | "unknown";

export async function revokeToken(db: Db, id: string, now: Date = new Date()): Promise<Revoked> {
  const [row] = await db.select({ revokedAt: tokens.revokedAt }).from(tokens).where(eq(tokens.id, id));
  if (!row) return "unknown";
  if (row.revokedAt) return "already-revoked";
  await db.update(tokens).set({ revokedAt: now }).where(eq(tokens.id, id));
  return "revoked";
}

/** Every token (of one tenant, when given), oldest first, without its digest. */
export async function listTokens(db: Db, tenantId?: string): Promise<Omit<TokenRecord, "tokenHash">[]> {
  const rows = await db
    .select()
    .from(tokens)
    .where(tenantId === undefined ? undefined : eq(tokens.tenantId, tenantId))
    .orderBy(asc(tokens.createdAt), asc(tokens.id));
  return rows.map((r) => {
    const { tokenHash: _hash, ...record } = recordOf(r);
    return record;
  });
}

/**
 * The record of one token id (what the guard checks a presented token against). Times are read as
 * epoch milliseconds: the services' postgres.js client hands timestamps to drizzle as text.
 */
export async function findToken(sql: Sql, id: string): Promise<TokenRecord | null> {
  type Found = { id: string; tenant_id: string | null; all_tenants: boolean; name: string; token_hash: string; created_ms: number; expires_ms: number | null; revoked_ms: number | null };
  const [r] = await sql<Found[]>`
    select id, tenant_id, all_tenants, name, token_hash,
           (extract(epoch from created_at) * 1000)::float8 as created_ms,
           (extract(epoch from expires_at) * 1000)::float8 as expires_ms,
           (extract(epoch from revoked_at) * 1000)::float8 as revoked_ms
      from access.tokens where id = ${id}`;
  if (!r) return null;
  const dateOf = (v: number | null): Date | null => (v === null ? null : new Date(v));
  return recordOf({ id: r.id, tenantId: r.tenant_id, allTenants: r.all_tenants, name: r.name, tokenHash: r.token_hash, createdAt: new Date(r.created_ms), expiresAt: dateOf(r.expires_ms), revokedAt: dateOf(r.revoked_ms) });
}
