// Operator CLI of the radius service (applies its migrations first):
//   npm run radius -- plan set --tenant T --plan P --down 100 --up 50
//   npm run radius -- plan list [--tenant T]
//   npm run radius -- nas add --tenant T --nas-id N --address 127.0.0.1 [--coa-port 3799] --secret S
//   npm run radius -- nas list [--tenant T]            (never prints secrets)
//   npm run radius -- policy set --tenant T --suspend-mode reject|walled_garden [--walled-garden-group G --walled-garden-rate 1M/1M]  (G is stored as T:wg:G)
import { Command, InvalidArgumentError } from "commander";
import ipaddr from "ipaddr.js";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { planProblems } from "./decide.js";
import { radiusMigrations } from "./service.js";
import { addNas, listNas, listPlans, setPlan, setPolicy } from "./store/store.js";

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

const port = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new InvalidArgumentError("expected a UDP port (1-65535)");
  return Number(v);
};

const nasCmd = program.command("nas").description("NAS devices per tenant: where CoA / Disconnect requests go");
nasCmd
  .command("add")
  .description("register (or change) a tenant's NAS")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--nas-id <id>", "NAS id")
  .requiredOption("--address <ip>", "the NAS-IP-Address it reports in accounting")
  .option("--coa-port <port>", "RFC 5176 port", port, 3799)
  .requiredOption("--secret <secret>", "shared secret for CoA / Disconnect (stored, never shown)")
  .action(async (o: { tenant: string; nasId: string; address: string; coaPort: number; secret: string }) => {
    if (!ipaddr.isValid(o.address)) program.error(`invalid --address ${JSON.stringify(o.address)}: not an IP address`);
    if (o.secret.length === 0) program.error("--secret must not be empty");
    await withDb((db) => addNas(db, { tenantId: o.tenant, nasId: o.nasId, address: ipaddr.parse(o.address).toString(), coaPort: o.coaPort, secret: o.secret }));
    console.log(`nas ${o.nasId} of tenant ${o.tenant}: ${o.address}, CoA port ${o.coaPort}`);
  });
nasCmd
  .command("list")
  .description("list NAS devices (without secrets)")
  .option("--tenant <tenant>", "only this tenant")
  .action(async (o: { tenant?: string }) => {
    const rows = await withDb((db) => listNas(db, o.tenant));
    if (rows.length === 0) console.log("no NAS devices");
    for (const r of rows) console.log(`${r.tenantId}\t${r.nasId}\t${r.address}\tCoA port ${r.coaPort}`);
  });

program
  .command("policy")
  .description("suspension policy per tenant")
  .command("set")
  .description("reject (Auth-Type := Reject) or walled_garden (move to a group)")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--suspend-mode <mode>", "reject | walled_garden")
  .option("--walled-garden-group <group>", "the group suspended accounts move to (walled_garden)")
  .option("--walled-garden-rate <rate>", "Mikrotik-Rate-Limit of the walled-garden group, e.g. 1M/1M")
  .action(async (o: { tenant: string; suspendMode: string; walledGardenGroup?: string; walledGardenRate?: string }) => {
    if (o.suspendMode !== "reject" && o.suspendMode !== "walled_garden") program.error("--suspend-mode must be reject or walled_garden");
    const mode = o.suspendMode as "reject" | "walled_garden";
    if (mode === "walled_garden" && !o.walledGardenGroup) program.error("walled_garden needs --walled-garden-group");
    const reply = o.walledGardenRate ? [{ attribute: "Mikrotik-Rate-Limit", op: ":=", value: o.walledGardenRate }] : [];
    const stored = await withDb((db) => setPolicy(db, o.tenant, { mode, walledGardenGroup: o.walledGardenGroup ?? null }, reply));
    console.log(`tenant ${o.tenant}: suspend mode ${mode}${stored.walledGardenGroup ? `, group ${stored.walledGardenGroup}` : ""}`);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
