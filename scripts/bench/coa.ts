// CoA dispatch benchmark (prints numbers; not a test): queues N suspend Disconnect-Requests, as the
// radius handler writes them, against fake NASes that ACK (scripts/simulated-nas.ts), runs the
// radius CoA dispatcher on them, and prints requests/s from its start until every outcome is
// recorded (with its RadiusCoaCompleted in the outbox). Runs in a database of its own on the
// server of DATABASE_URL (fiber_coa_dispatch_<digest>, see scripts/coa-dispatcher.ts), so no radius
// service on the shared database takes its requests or publishes its events; removes its
// tenant's requests, NASes and outbox rows afterwards.
//   npm run bench:coa -- [--n 10000] [--nases 1] [--delay 0] [--window 32] [--max-in-flight 256]
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { inArray, sql as dsql } from "drizzle-orm";
import { connect } from "../../shared/db.js";
import { createLogger } from "../../shared/logger.js";
import { coaRequests, nasDevices, outbox } from "../../services/radius/store/schema.js";
import { addNas } from "../../services/radius/store/store.js";
import { isolatedDatabase, standaloneDispatcher } from "../coa-dispatcher.js";
import { startFakeNas } from "../simulated-nas.js";

export interface CoaBenchOptions {
  /** Fake NASes the requests are spread over (round robin). */
  readonly nases?: number;
  /** Each NAS answers this long after a request arrives (a round trip). */
  readonly delayMs?: number;
  readonly window?: number;
  readonly maxInFlight?: number;
  /** The server to use (its database is ignored: the benchmark uses one of its own there). */
  readonly databaseUrl?: string;
  readonly logLevel?: string;
}

export interface CoaBenchResult {
  readonly n: number;
  readonly queueSeconds: number;
  readonly dispatchSeconds: number;
  readonly perSecond: number;
  /** Most requests one NAS had received and not yet answered (only counted with a delay). */
  readonly peakUnanswered: number;
}

export async function benchCoa(n: number, o: CoaBenchOptions = {}): Promise<CoaBenchResult> {
  const url = await isolatedDatabase(o.databaseUrl ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/fiber");
  const nasCount = o.nases ?? 1;
  const { sql, db } = connect(url, { max: 2, application: "coa-bench" });
  const tenant = `bench-coa-${randomBytes(4).toString("hex")}`;
  const secret = `bench-${randomBytes(8).toString("hex")}`;
  const nases = await Promise.all(Array.from({ length: nasCount }, (_, i) => startFakeNas(secret, { delayMs: o.delayMs ?? 0, host: `127.0.0.${i + 1}` })));
  try {
    for (const [i, nas] of nases.entries()) await addNas(db, { tenantId: tenant, nasId: `nas-${i + 1}`, address: nas.host, coaPort: nas.port, secret });

    const q0 = performance.now();
    for (let from = 0; from < n; from += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - from) }, (_, k) => {
        const i = from + k;
        const username = `sub-${i}@${tenant}`;
        return {
          id: `${tenant}-${i}`,
          tenantId: tenant,
          subscriberId: `sub-${i}`,
          username,
          kind: "disconnect" as const,
          nasId: `nas-${(i % nasCount) + 1}`,
          attributes: { "User-Name": username, "Framed-IP-Address": `100.64.${(i >> 8) & 255}.${i & 255}`, "Acct-Session-Id": `sess-${i}` },
          causeEventId: `${tenant}-evt-${i}`,
          correlationId: `${tenant}-order-${i}`,
          status: "pending" as const,
        };
      });
      await db.insert(coaRequests).values(rows);
    }
    const queueSeconds = (performance.now() - q0) / 1000;

    const t0 = performance.now();
    const dispatcher = standaloneDispatcher(
      url,
      {
        COA_TIMEOUT_MS: 1000,
        COA_ATTEMPTS: 3,
        COA_POLL_MS: 2000,
        COA_WINDOW_PER_NAS: o.window ?? 32,
        COA_MAX_IN_FLIGHT: o.maxInFlight ?? 256,
        tenants: [tenant],
      },
      createLogger("radius", o.logLevel ?? "warn"),
    );
    // Done when no request of the tenant is open (the partial index keeps this count cheap).
    for (;;) {
      const [row] = await sql<{ open: number }[]>`select count(*)::int as open from radius.coa_requests where tenant_id = ${tenant} and status in ('pending', 'sending')`;
      if ((row?.open ?? 1) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const dispatchSeconds = (performance.now() - t0) / 1000;
    await dispatcher.stop();
    const [events] = await sql<{ n: number }[]>`select count(*)::int as n from radius.outbox where type = 'RadiusCoaCompleted' and meta->>'tenant_id' = ${tenant}`;
    if (events?.n !== n) throw new Error(`expected ${n} RadiusCoaCompleted, found ${events?.n}`);
    return { n, queueSeconds, dispatchSeconds, perSecond: n / dispatchSeconds, peakUnanswered: Math.max(...nases.map((x) => x.maxUnanswered)) };
  } finally {
    await db.delete(outbox).where(dsql`${outbox.meta}->>'tenant_id' = ${tenant}`);
    await db.delete(coaRequests).where(inArray(coaRequests.tenantId, [tenant]));
    await db.delete(nasDevices).where(inArray(nasDevices.tenantId, [tenant]));
    await sql.end({ timeout: 5 });
    await Promise.all(nases.map((x) => x.close()));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = new Command()
    .name("bench:coa")
    .option("--n <n>", "requests to queue", "10000")
    .option("--nases <k>", "fake NASes the requests are spread over", "1")
    .option("--delay <ms>", "each NAS answers after this long", "0")
    .option("--window <w>", "COA_WINDOW_PER_NAS", "32")
    .option("--max-in-flight <m>", "COA_MAX_IN_FLIGHT", "256")
    .option("--log-level <level>", "the dispatcher's log level (info logs a line per request, as the service does)", "warn")
    .parse()
    .opts<{ n: string; nases: string; delay: string; window: string; maxInFlight: string; logLevel: string }>();
  const r = await benchCoa(Number(opts.n), {
    nases: Number(opts.nases),
    delayMs: Number(opts.delay),
    window: Number(opts.window),
    maxInFlight: Number(opts.maxInFlight),
    logLevel: opts.logLevel,
  });
  console.log(
    `${r.n} Disconnect-Requests, ${opts.nases} NAS(es) answering ACK after ${opts.delay} ms, window ${opts.window}/NAS, ${opts.maxInFlight} in flight: ` +
      `${Math.round(r.perSecond)} requests/s (dispatched and recorded in ${r.dispatchSeconds.toFixed(2)} s; queued in ${r.queueSeconds.toFixed(2)} s)` +
      (Number(opts.delay) > 0 ? `; at most ${r.peakUnanswered} unanswered at one NAS` : ""),
  );
}
