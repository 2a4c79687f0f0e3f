// Operator CLI of the projection: npm run projection -- <command>. Applies the migrations first.
//   show --tenant T --subscriber S
//   list --tenant T [--status active]
//   replay            (with the projection stopped: rebuild every document from offset 0)
import { Command, Option } from "commander";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema, type Db } from "../../shared/db.js";
import { createKafka } from "../../shared/kafka.js";
import { createLogger } from "../../shared/logger.js";
import { statuses, type Status } from "./fold.js";
import { resetForReplay } from "./replay.js";
import { migrationsFolder } from "./service.js";
import { listDocuments, loadDocument } from "./store/entities.js";

const config = () => loadConfig({});

async function withDb<T>(work: (db: Db) => Promise<T>): Promise<T> {
  const { DATABASE_URL } = config();
  await migrateSchema(DATABASE_URL, "projection", migrationsFolder);
  const { sql, db } = connect(DATABASE_URL, { max: 2, application: "projection-cli" });
  try {
    return await work(db);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));
const program = new Command("projection").description("service_metadata documents of subscribers");

program
  .command("show")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--subscriber <id>", "subscriber id")
  .action(async (o: { tenant: string; subscriber: string }) => {
    const doc = await withDb((db) => loadDocument(db, o.tenant, o.subscriber));
    if (!doc) {
      console.error(`no document for subscriber ${o.subscriber} of tenant ${o.tenant}`);
      process.exitCode = 1;
      return;
    }
    print(doc);
  });

program
  .command("list")
  .requiredOption("--tenant <tenant>", "tenant id")
  .addOption(new Option("--status <status>", "only this status").choices(statuses))
  .action(async (o: { tenant: string; status?: Status }) => {
    const docs = await withDb((db) => listDocuments(db, o.tenant, { ...(o.status ? { status: o.status } : {}), limit: 1000, offset: 0 }));
    for (const d of docs) console.log(`${d.subscriber_id}\t${d.status}\t${d.timeline.length} events`);
  });

program
  .command("replay")
  .description("with the projection stopped: reset its group to offset 0 and empty its documents; the next start rebuilds them")
  .action(async () => {
    const c = config();
    const kafka = createKafka(c, "projection-cli", createLogger("projection-cli", c.LOG_LEVEL));
    await withDb((db) => resetForReplay(kafka, db, `projection${c.KAFKA_GROUP_SUFFIX}`));
    console.log("reset: start the projection to rebuild every document from offset 0");
  });

await program.parseAsync();
