// Operator tokens for the services' HTTP routes (applies the access schema's migrations first):
//   npm run token -- create --tenant T --name noc-alice [--expires-in 90d]   prints the token, once
//   npm run token -- create --all-tenants --name ops-root [--expires-in 7d]  a token that sees every tenant
//   npm run token -- revoke --id ID                                          refused within ACCESS_TOKEN_CACHE_MS
//   npm run token -- list [--tenant T]                                       never shows a token
// The token alone goes to stdout (TOKEN=$(npm run -s token -- create ...)); what it is, to stderr.
import { Command, InvalidArgumentError } from "commander";
import { createToken, listTokens, migrateAccess, revokeToken } from "../shared/access/store.js";
import { describeScope, parseDuration, type TenantScope } from "../shared/access/tokens.js";
import { loadConfig } from "../shared/config.js";
import { connect, type Db } from "../shared/db.js";

async function withDb<T>(work: (db: Db) => Promise<T>): Promise<T> {
  const { DATABASE_URL } = loadConfig({});
  await migrateAccess(DATABASE_URL);
  const { sql, db } = connect(DATABASE_URL, { max: 1, application: "token-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const duration = (v: string): number => {
  const ms = parseDuration(v);
  if (ms === null) throw new InvalidArgumentError("expected a positive whole number and a unit: 45s, 30m, 12h, 90d, 2w");
  return ms;
};

const nonEmpty = (what: string) => (v: string): string => {
  if (v.trim() === "") throw new InvalidArgumentError(`${what} must not be empty`);
  return v.trim();
};

const when = (d: Date | null): string => d?.toISOString() ?? "-";

const program = new Command("token").description("operator tokens for the services' HTTP routes (Authorization: Bearer <token>)");

program
  .command("create")
  .description("create a token for one tenant (or every tenant) and print it once")
  .option("--tenant <tenant>", "the tenant the token sees", nonEmpty("--tenant"))
  .option("--all-tenants", "a token that sees every tenant (an operator super-user)")
  .requiredOption("--name <name>", "who or what holds it, e.g. noc-alice", nonEmpty("--name"))
  .option("--expires-in <duration>", "lifetime: 45s, 30m, 12h, 90d, 2w (default: no expiry)", duration)
  .action(async (o: { tenant?: string; allTenants?: boolean; name: string; expiresIn?: number }) => {
    if ((o.tenant === undefined) === (o.allTenants !== true)) program.error("give exactly one of --tenant T and --all-tenants");
    const scope: TenantScope = o.tenant !== undefined ? { kind: "tenant", tenantId: o.tenant } : { kind: "all" };
    const expiresAt = o.expiresIn === undefined ? null : new Date(Date.now() + o.expiresIn);
    const { record, token } = await withDb((db) => createToken(db, { scope, name: o.name, expiresAt }));
    console.error(`token ${record.id} for tenant ${describeScope(record.scope)} (${record.name}), expires ${when(record.expiresAt)}; it is shown once, here:`);
    console.log(token);
  });

program
  .command("revoke")
  .description("revoke a token: every service refuses it within ACCESS_TOKEN_CACHE_MS (5 s)")
  .requiredOption("--id <id>", "the token's id (npm run token -- list)")
  .action(async (o: { id: string }) => {
    const outcome = await withDb((db) => revokeToken(db, o.id));
    if (outcome === "unknown") program.error(`no token with id ${o.id}`);
    console.log(outcome === "revoked" ? `token ${o.id} revoked` : `token ${o.id} was already revoked`);
  });

program
  .command("list")
  .description("list tokens: id, tenant (* for all), name, created, expires, revoked; never the token")
  .option("--tenant <tenant>", "only the tokens of this tenant")
  .action(async (o: { tenant?: string }) => {
    const rows = await withDb((db) => listTokens(db, o.tenant));
    if (rows.length === 0) {
      console.log("no tokens");
      return;
    }
    console.log(["id", "tenant", "name", "created", "expires", "revoked"].join("\t"));
    for (const r of rows) console.log([r.id, describeScope(r.scope), r.name, when(r.createdAt), when(r.expiresAt), when(r.revokedAt)].join("\t"));
  });

await program.parseAsync();
