// Operator CLI of the subscriber service: the per-tenant plan catalogue.
//   npm run subscriber -- plan add --tenant T --plan P --name N --bandwidth 100
//   npm run subscriber -- plan list --tenant T
// Connects with DATABASE_URL and applies the service's migrations first.
import { Command, InvalidArgumentError } from "commander";
import { baseConfigSchema } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { migrationsFolder } from "./service.js";
import { addPlan, listPlans } from "./store/plans.js";

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return n;
};

const nonBlank = (v: string): string => {
  if (v.trim() === "") throw new InvalidArgumentError("must not be blank");
  return v.trim();
};

async function withDb<T>(work: (db: ReturnType<typeof connect>["db"]) => Promise<T>): Promise<T> {
  const url = baseConfigSchema.shape.DATABASE_URL.parse(process.env.DATABASE_URL || undefined);
  await migrateSchema(url, "subscriber", migrationsFolder);
  const { sql, db } = connect(url, { max: 1, application: "subscriber-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const program = new Command("subscriber").description("subscriber service administration");
const plan = program.command("plan").description("the tenant's plan catalogue");

plan
  .command("add")
  .description("add a plan to a tenant's catalogue (or update its name and bandwidth)")
  .requiredOption("--tenant <tenant>", "tenant id", nonBlank)
  .requiredOption("--plan <plan>", "plan id, as orders name it in service_plan_id", nonBlank)
  .requiredOption("--name <name>", "display name", nonBlank)
  .requiredOption("--bandwidth <mbps>", "bandwidth in Mbit/s, the default for orders without one", positiveInt)
  .action(async (o: { tenant: string; plan: string; name: string; bandwidth: number }) => {
    const stored = await withDb((db) => addPlan(db, { tenantId: o.tenant, planId: o.plan, name: o.name, bandwidthMbps: o.bandwidth }));
    console.log(`plan ${stored.plan_id} (${stored.name}, ${stored.bandwidth_mbps} Mbit/s) stored for tenant ${o.tenant}`);
  });

plan
  .command("list")
  .description("list a tenant's plans")
  .requiredOption("--tenant <tenant>", "tenant id", nonBlank)
  .option("--json", "print JSON")
  .action(async (o: { tenant: string; json?: boolean }) => {
    const plans = await withDb((db) => listPlans(db, o.tenant));
    if (o.json) return console.log(JSON.stringify(plans));
    if (plans.length === 0) return console.log(`tenant ${o.tenant} has no plans`);
    for (const p of plans) console.log(`${p.plan_id}\t${p.bandwidth_mbps} Mbit/s\t${p.name}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
