// Operator CLI of billing: npm run billing -- <command>. Applies the billing migrations first.
//   price set --tenant T --plan P --monthly 39.90 --currency EUR
//   price list --tenant T
//   services --tenant T --subscriber S   (each billing service with status and plan history)
import { Command, InvalidArgumentError, Option } from "commander";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { formatPrice, isCurrency, parseMonthlyPrice } from "./price.js";
import { migrationsFolder } from "./service.js";
import { listPrices, planHistory, servicesOf, setPrice } from "./store/billing.js";

async function withDb<T>(work: (db: ReturnType<typeof connect>["db"]) => Promise<T>): Promise<T> {
  const { DATABASE_URL } = loadConfig({});
  await migrateSchema(DATABASE_URL, "billing", migrationsFolder);
  const { sql, db } = connect(DATABASE_URL, { max: 2, application: "billing-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const cents = (v: string): number => {
  const c = parseMonthlyPrice(v);
  if (c === null) throw new InvalidArgumentError("expected an amount such as 39.90");
  return c;
};
const currency = (v: string): string => {
  if (!isCurrency(v.toUpperCase())) throw new InvalidArgumentError("expected a 3-letter ISO 4217 code such as EUR");
  return v.toUpperCase();
};
const tenant = () => new Option("--tenant <tenant>", "tenant id").makeOptionMandatory();

const program = new Command("billing").description("Billing: prices per tenant and plan");
const price = program.command("price").description("monthly prices per plan");
price
  .command("set")
  .addOption(tenant())
  .requiredOption("--plan <plan>", "service plan id")
  .requiredOption("--monthly <amount>", "monthly price, e.g. 39.90", cents)
  .requiredOption("--currency <code>", "ISO 4217 currency, e.g. EUR", currency)
  .action(async (o: { tenant: string; plan: string; monthly: number; currency: string }) => {
    await withDb((db) => setPrice(db, o.tenant, o.plan, { monthly_price_cents: o.monthly, currency: o.currency }));
    console.log(`plan ${o.plan} of tenant ${o.tenant}: ${formatPrice(o.monthly, o.currency)} per month`);
  });
price
  .command("list")
  .addOption(tenant())
  .action(async (o: { tenant: string }) => {
    const rows = await withDb((db) => listPrices(db, o.tenant));
    if (rows.length === 0) console.log(`no prices for tenant ${o.tenant}`);
    for (const r of rows) console.log(`${r.planId}  ${formatPrice(r.monthlyPriceCents, r.currency)} per month`);
  });

program
  .command("services")
  .description("a subscriber's billing services, their status and plan history")
  .addOption(tenant())
  .requiredOption("--subscriber <id>", "subscriber id")
  .action(async (o: { tenant: string; subscriber: string }) => {
    await withDb(async (db) => {
      const services = await servicesOf(db, o.tenant, o.subscriber);
      if (services.length === 0) console.log(`no billing service for subscriber ${o.subscriber} of tenant ${o.tenant}`);
      for (const svc of services) {
        const ended = svc.endedAt ? `, ended ${svc.endedAt.toISOString()}` : "";
        console.log(`${svc.serviceId}  ${svc.status}  ${svc.planId}  started ${svc.startedAt.toISOString()}${ended}`);
        for (const p of await planHistory(db, o.tenant, svc.serviceId)) {
          console.log(`  ${p.startsOn} .. ${p.endsOn ?? "open"}  ${p.planId}  ${formatPrice(p.monthlyPriceCents, p.currency)} per month`);
        }
      }
    });
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
