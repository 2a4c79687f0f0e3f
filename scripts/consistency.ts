// Checks the invariants that hold across the services' own stores (docs/services.md, Tools):
// unique addresses, RADIUS = IPAM, an active subscriber has every part, a rolled-back or
// terminated one has none left, every order ends, profile = IPAM, projection = fold of its
// events. Prints one line per breach and a summary; exits 1 on any breach, 0 when consistent,
// 2 when it could not check.
//   npm run consistency [-- --tenant T] [--grace 180s]
import { Command } from "commander";
import { loadCatalog } from "../schemas/catalog.js";
import { subscriberConfig } from "../services/subscriber/config.js";
import { createCodec } from "../shared/codec.js";
import { loadConfig } from "../shared/config.js";
import { connect } from "../shared/db.js";
import { createKafka } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import type { Report } from "./consistency/model.js";
import { checkOrders } from "./consistency/orders.js";
import { checkProjection } from "./consistency/projection.js";
import { committedOffsets, readTopics } from "./consistency/read-kafka.js";
import { readSnapshot } from "./consistency/read-db.js";
import { formatReport, merge, parseDuration, type Counts } from "./consistency/report.js";
import { checkStores } from "./consistency/stores.js";

export interface ConsistencyResult {
  readonly report: Report;
  readonly lines: readonly string[];
}

/**
 * Reads in this order, so that what is merely not consumed yet is never taken for a breach: the
 * projection's committed offsets first (a document holds at least what its group committed), then
 * the stores in one snapshot, then the topics up to their end (which holds at least every event
 * the snapshot reflects).
 */
export async function checkConsistency(tenant: string | null, graceMs: number | null, env = process.env): Promise<ConsistencyResult> {
  const config = loadConfig(subscriberConfig, env);
  const grace = graceMs ?? Math.max(config.PROVISIONING_DEADLINE_MS, config.LIFECYCLE_ORDER_DEADLINE_MS) + config.DEADLINE_SWEEP_MS;
  const kafka = createKafka(config, "consistency", createLogger("consistency", "silent"));
  const codec = createCodec(config, loadCatalog());
  const committed = await committedOffsets(kafka, `projection${config.KAFKA_GROUP_SUFFIX}`);
  const { sql } = connect(config.DATABASE_URL, { max: 1, application: "consistency" });
  let snapshot;
  try {
    snapshot = await readSnapshot(sql, tenant);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const read = await readTopics(kafka, codec, tenant);
  const options = { now: snapshot.at, graceMs: grace };
  // Orders are judged against the clock after the topics were read: an order placed meanwhile is young, not old.
  const report = merge(
    checkStores(snapshot.stores, options),
    checkOrders(read.orders, { now: Math.max(Date.now(), snapshot.at), graceMs: grace }),
    checkProjection({ documents: snapshot.documents, events: read.events, committed }, options),
  );
  const byStatus = new Map<string, number>();
  for (const s of snapshot.stores.subscribers) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
  const counts: Counts = {
    subscribers: snapshot.stores.subscribers.length,
    byStatus,
    orders: read.orders.length,
    documents: snapshot.documents.length,
    events: read.events.length,
  };
  const lines = formatReport(report, counts, { tenant, graceMs: grace });
  if (read.undecodable > 0) lines.splice(-1, 0, `  (${read.undecodable} record(s) did not decode: the services dead-letter those)`);
  return { report, lines };
}

if (/\bconsistency\.[jt]s$/.test(process.argv[1] ?? "")) {
  const program = new Command()
    .name("consistency")
    .description("check the invariants across the services' stores; exit 1 on any breach")
    .option("--tenant <tenant>", "only this tenant")
    .option("--grace <duration>", "how long an order or step may stay in flight (e.g. 180s); default: the deadline settings")
    .action(async (opts: { tenant?: string; grace?: string }) => {
      try {
        const { report, lines } = await checkConsistency(opts.tenant ?? null, opts.grace === undefined ? null : parseDuration(opts.grace));
        for (const l of lines) console.log(l);
        process.exitCode = report.breaches.length > 0 ? 1 : 0;
      } catch (err) {
        console.error(`consistency: could not check: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 2;
      }
    });
  await program.parseAsync();
}
