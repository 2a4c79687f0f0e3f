// Operator tokens for the tests: one per test tenant, created in the access schema as
// `npm run token -- create` does, for calling the services' routes.
import { createToken, migrateAccess } from "../../shared/access/store.js";
import type { TenantScope } from "../../shared/access/tokens.js";
import { connect } from "../../shared/db.js";
import { testEnv } from "./env.js";

let migrated: Promise<void> | undefined;

/** A new token that sees `tenant` (or every tenant, with `{ kind: "all" }`). */
export async function tokenFor(tenant: string | TenantScope, options: { readonly expiresAt?: Date; readonly name?: string } = {}): Promise<string> {
  migrated ??= migrateAccess(testEnv.DATABASE_URL);
  await migrated;
  const scope: TenantScope = typeof tenant === "string" ? { kind: "tenant", tenantId: tenant } : tenant;
  const { sql, db } = connect(testEnv.DATABASE_URL, { max: 1, application: "test-tokens" });
  try {
    return (await createToken(db, { scope, name: `test-${typeof tenant === "string" ? tenant : "all"}`, expiresAt: options.expiresAt ?? null })).token;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Request headers carrying `token`. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** fetch with `token` as the Authorization bearer. */
export const fetchAs = (token: string, url: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...bearer(token) } });
