// Operator CLI of the profile service: npm run profile -- show --tenant T --subscriber S [--include-deleted]
import { Command } from "commander";
import { loadConfig } from "../../shared/config.js";
import { connect, migrateSchema } from "../../shared/db.js";
import { profileBody } from "./routes.js";
import { migrationsFolder } from "./service.js";
import { getBySubscriber } from "./store/profiles.js";

const program = new Command("profile").description("subscriber network profiles");

program
  .command("show")
  .requiredOption("--tenant <tenant>", "tenant id")
  .requiredOption("--subscriber <id>", "subscriber id")
  .option("--include-deleted", "show a soft-deleted profile too")
  .action(async (o: { tenant: string; subscriber: string; includeDeleted?: boolean }) => {
    const { DATABASE_URL } = loadConfig({});
    await migrateSchema(DATABASE_URL, "profile", migrationsFolder);
    const { sql, db } = connect(DATABASE_URL, { max: 1, application: "profile-cli" });
    try {
      const row = await getBySubscriber(db, o.tenant, o.subscriber, { includeDeleted: o.includeDeleted === true });
      if (!row) {
        console.error(`no network profile for subscriber ${o.subscriber} of tenant ${o.tenant}`);
        process.exitCode = 1;
        return;
      }
      console.log(JSON.stringify(profileBody(row), null, 2));
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

await program.parseAsync();
