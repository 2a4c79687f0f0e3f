// The `access` schema: operator tokens, read by every service and written only by the token CLI
// (npm run token). One schema of its own, not a service's, because every service checks the
// same tokens (docs/decisions.md, "Operator tokens").
import { sql } from "drizzle-orm";
import { boolean, check, index, pgSchema, text, timestamp } from "drizzle-orm/pg-core";

export const schemaName = "access";
export const schema = pgSchema(schemaName);

const tz = { withTimezone: true } as const;

/** One row per token; only the SHA-256 of the token is kept. A token is never deleted, only revoked. */
export const tokens = schema.table(
  "tokens",
  {
    id: text("id").primaryKey(),
    /** The one tenant the token sees; null for an all-tenants token. */
    tenantId: text("tenant_id"),
    allTenants: boolean("all_tenants").notNull().default(false),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: timestamp("created_at", tz).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", tz),
    revokedAt: timestamp("revoked_at", tz),
  },
  (t) => [
    index("tokens_tenant").on(t.tenantId),
    check("tokens_scope", sql`(${t.allTenants} and ${t.tenantId} is null) or (not ${t.allTenants} and ${t.tenantId} is not null)`),
  ],
);
