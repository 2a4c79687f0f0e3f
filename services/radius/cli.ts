// Operator CLI of the radius service (applies its migrations first):
//   npm run radius -- plan set --tenant T --plan P --down 100 --up 50
//   npm run radius -- plan list [--tenant T]
import { Command, InvalidArgumentError } from "commander";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { planProblems } from "./decide.js";
import { radiusMigrations } from "./service.js";
import { listPlans, setPlan } from "./store/store.js";

const mbps = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number of Mbit/s");
  return Number(v);
};

async function withDb<T>(work: (db: ReturnType<typeof connect>["db"]) => Promise<T>): Promise<T> {
  const { DATABASE_URL } = loadConfig({});
  await migrateSchema(DATABASE_URL, "radius", radiusMigrations);
  const { sql, db } = connect(DATABASE_URL, { max: 1, application: "radius-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const program = new Command("radius").description("radius service administration");
const plan = program.command("plan").description("RADIUS plans (groups with their rate limit) per tenant");

plan
  .command("set")
  .description("create or change a tenant's plan: group <tenant>:<plan> with Mikrotik-Rate-Limit and WISPr bandwidth")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--plan <plan>", "service plan id")
  .requiredOption("--down <mbps>", "download rate, Mbit/s", mbps)
  .requiredOption("--up <mbps>", "upload rate, Mbit/s", mbps)
  .action(async (o: { tenant: string; plan: string; down: number; up: number }) => {
    const config = { planId: o.plan, downloadMbps: o.down, uploadMbps: o.up };
    const problems = planProblems(config);
    if (problems.length > 0) program.error(`invalid plan:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    const row = await withDb((db) => setPlan(db, o.tenant, config));
    console.log(`plan ${row.planId} of tenant ${row.tenantId}: group ${row.groupName}, ${row.downloadMbps}M down / ${row.uploadMbps}M up`);
  });

plan
  .command("list")
  .description("list plans")
  .option("--tenant <tenant>", "only this tenant")
  .action(async (o: { tenant?: string }) => {
    const rows = await withDb((db) => listPlans(db, o.tenant));
    if (rows.length === 0) console.log("no plans");
    for (const r of rows) console.log(`${r.tenantId}\t${r.planId}\t${r.downloadMbps}M down\t${r.uploadMbps}M up\t${r.groupName}`);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
