// Pool administration: npm run ipam -- pool add | pool list | seed-demo (see --help).
// Applies ipam's migrations first, so it works on a fresh database.
import { Command, InvalidArgumentError } from "commander";
import { connect, migrateSchema } from "../../shared/db.js";
import { AddressError, families, type Family } from "./domain/addresses.js";
import { poolUsages, type PoolUsage } from "./decide.js";
import { ipamMigrations } from "./service.js";
import { addPool, listPools, seedDemo } from "./store/pools.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/fiber";

async function withDb<T>(work: (db: ReturnType<typeof connect>["db"]) => Promise<T>): Promise<T> {
  await migrateSchema(databaseUrl, "ipam", ipamMigrations);
  const { sql, db } = connect(databaseUrl, { max: 1, application: "ipam-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const kind = (v: string): Family => {
  if (!(families as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${families.join(", ")}`);
  return v as Family;
};
const usage = (v: string): PoolUsage => {
  if (!(poolUsages as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${poolUsages.join(", ")}`);
  return v as PoolUsage;
};
const int = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a number");
  return Number(v);
};
const collect = (v: string, prev: string[]): string[] => [...prev, v];

const program = new Command("ipam").description("IPAM pools per tenant: IPv4, IPv6 addresses and IPv6 delegated prefixes");
const pool = program.command("pool").description("manage pools");

pool
  .command("add")
  .description("define a pool (gateway and reserved ranges are never handed out)")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--name <name>", "pool name, unique per tenant")
  .requiredOption("--kind <kind>", "ipv4 | ipv6 | ipv6_pd", kind)
  .requiredOption("--cidr <cidr>", "e.g. 100.64.0.0/22 or 2001:db8:100::/40")
  .option("--gateway <address>", "gateway address (ipv4 / ipv6 pools)")
  .option("--delegated-length <len>", "delegated prefix length of an ipv6_pd pool (e.g. 56 or 60)", int)
  .option("--reserve <range>", "reserved range first-last or one address; repeatable", collect, [])
  .option("--default", "the tenant's default pool of this kind", false)
  .option(
    "--usage <usage>",
    "dynamic (handed out by the allocator only) | static (statics only: a business customer's own range) | both (statics outside the reserved ranges, the rest handed out)",
    usage,
    "both",
  )
  .action(async (o: { tenant: string; name: string; kind: Family; cidr: string; gateway?: string; delegatedLength?: number; reserve: string[]; default: boolean; usage: PoolUsage }) => {
    const row = await withDb((db) =>
      addPool(db, { tenantId: o.tenant, name: o.name, kind: o.kind, cidr: o.cidr, gateway: o.gateway ?? null, delegatedLength: o.delegatedLength ?? null, reserve: o.reserve, isDefault: o.default, usage: o.usage }),
    );
    console.log(`pool ${row.name} (${row.kind} ${row.cidr}, ${row.usage}) added for tenant ${row.tenantId}`);
  });

pool
  .command("list")
  .description("the tenant's pools with used and free counts")
  .requiredOption("--tenant <tenant>", "tenant id")
  .option("--json", "print JSON", false)
  .action(async (o: { tenant: string; json: boolean }) => {
    const pools = await withDb((db) => listPools(db, o.tenant));
    if (o.json) return console.log(JSON.stringify(pools, null, 2));
    if (pools.length === 0) return console.log(`no pools for tenant ${o.tenant}`);
    console.table(
      pools.map((p) => ({
        name: p.name,
        kind: p.kind,
        cidr: p.cidr,
        gateway: p.gateway ?? "",
        delegated: p.delegated_length ? `/${p.delegated_length}` : "",
        default: p.is_default,
        usage: p.usage,
        reserved: p.reserved.join(", "),
        used: p.used,
        free: p.free,
      })),
    );
  });

program
  .command("seed-demo")
  .description("default demo pools for a tenant (IPv4 /20, IPv6 /64, PD /56 from a /40, PD /60 from a /44)")
  .requiredOption("--tenant <tenant>", "tenant id")
  .action(async (o: { tenant: string }) => {
    const added = await withDb((db) => seedDemo(db, o.tenant));
    console.log(added.length ? `added pools: ${added.join(", ")}` : "demo pools already there");
  });

program.parseAsync().catch((err: unknown) => {
  const cause = err instanceof Error && err.cause ? err.cause : err;
  const pgCode = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : "";
  if (err instanceof AddressError) console.error(`error: ${err.message}`);
  else if (pgCode === "23505") console.error("error: a pool with that name (or a default pool of that kind) already exists for the tenant");
  else console.error(err);
  process.exit(1);
});
