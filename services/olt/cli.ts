// Operator CLI of the simulated OLT: npm run olt -- <command>. Applies the olt migrations first.
//   olt add --tenant T --olt olt-1 --name "OLT 1"
//   onu discover --tenant T --olt olt-1 --port 0/1/1 --serial ALCL12345678
//   inject --tenant T --serial X --operation activate --error "LOS on PON port" [--times N]
//   clear-injection --tenant T --serial X [--operation activate]
//   list --tenant T
import { Command, InvalidArgumentError, Option } from "commander";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { vlanLabel } from "./decide.js";
import { migrationsFolder } from "./service.js";
import { addOlt, clearInjection, discoverOnu, injectFailure, listOlt, operations, type Operation } from "./store/simulated-olt.js";

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of 1 or more");
  return n;
};

async function withDb<T>(work: (db: ReturnType<typeof connect>["db"]) => Promise<T>): Promise<T> {
  const { DATABASE_URL } = loadConfig({});
  await migrateSchema(DATABASE_URL, "olt", migrationsFolder);
  const { sql, db } = connect(DATABASE_URL, { max: 2, application: "olt-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const program = new Command("olt").description("The simulated OLT: OLTs, PON ports, ONUs, service flows and failure injection");
const tenant = () => new Option("--tenant <tenant>", "tenant id").makeOptionMandatory();

const olt = program.command("olt").description("OLTs");
olt
  .command("add")
  .addOption(tenant())
  .requiredOption("--olt <olt>", "OLT id, e.g. olt-1")
  .requiredOption("--name <name>", "display name")
  .action(async (o: { tenant: string; olt: string; name: string }) => {
    await withDb((db) => addOlt(db, o.tenant, o.olt, o.name));
    console.log(`OLT ${o.olt} (${o.name}) ready for tenant ${o.tenant}`);
  });

const onu = program.command("onu").description("ONUs");
onu
  .command("discover")
  .description("register an ONU serial as seen on a PON port")
  .addOption(tenant())
  .requiredOption("--olt <olt>", "OLT id")
  .requiredOption("--port <port>", "PON port, frame/slot/port, e.g. 0/1/3")
  .requiredOption("--serial <serial>", "ONU serial, e.g. ALCL12345678")
  .action(async (o: { tenant: string; olt: string; port: string; serial: string }) => {
    const onuId = await withDb((db) => discoverOnu(db, o.tenant, o.olt, o.port, o.serial));
    console.log(`ONU ${o.serial} discovered on ${o.olt} port ${o.port}: ${onuId}`);
  });

program
  .command("inject")
  .description("make an operation fail for a serial (permanently unless --times)")
  .addOption(tenant())
  .requiredOption("--serial <serial>", "ONU serial")
  .addOption(new Option("--operation <operation>", "operation to fail").choices(operations).makeOptionMandatory())
  .requiredOption("--error <message>", "the error the OLT reports")
  .option("--times <n>", "fail this many times, then work again", positiveInt)
  .action(async (o: { tenant: string; serial: string; operation: Operation; error: string; times?: number }) => {
    await withDb((db) => injectFailure(db, o.tenant, o.serial, { operation: o.operation, error: o.error, times: o.times ?? "permanent" }));
    console.log(`${o.operation} of ${o.serial} will fail ${o.times ? `${o.times} time(s)` : "until cleared"}: ${o.error}`);
  });

program
  .command("clear-injection")
  .description("remove injected failures of a serial")
  .addOption(tenant())
  .requiredOption("--serial <serial>", "ONU serial")
  .addOption(new Option("--operation <operation>", "only this operation").choices(operations))
  .action(async (o: { tenant: string; serial: string; operation?: Operation }) => {
    const n = await withDb((db) => clearInjection(db, o.tenant, o.serial, o.operation));
    console.log(`${n} injection(s) cleared for ${o.serial}`);
  });

program
  .command("list")
  .description("OLTs, PON ports, ONUs with their service flows, and injected failures")
  .addOption(tenant())
  .action(async (o: { tenant: string }) => {
    const state = await withDb((db) => listOlt(db, o.tenant));
    for (const x of state.olts) {
      const ports = state.ponPorts.filter((p) => p.oltId === x.oltId).map((p) => p.port);
      console.log(`OLT ${x.oltId} "${x.name}"  PON ports: ${ports.join(", ") || "none"}`);
      for (const u of state.onus.filter((u) => u.oltId === x.oltId)) {
        const flow = state.flows.find((f) => f.serial === u.serial);
        const flowText = flow
          ? `flow: subscriber ${flow.subscriberId}, VLAN ${vlanLabel(flow.sVlan, flow.cVlan)}, ${flow.bandwidthMbps} Mbps`
          : "no service flow";
        console.log(`  ${u.ponPort}  ${u.serial}  ${u.onuId}  ${u.state}  ${flowText}`);
      }
    }
    if (state.olts.length === 0) console.log(`no OLTs for tenant ${o.tenant}`);
    for (const i of state.injections) {
      const left = i.permanent ? "permanent" : `${i.remaining} left`;
      console.log(`injection: ${i.serial} ${i.operation} "${i.error}" (${left})`);
    }
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
