// Sends the queued CoA / Disconnect requests (written with the account change, so they survive a
// crash) and reports each outcome as RadiusCoaCompleted through the outbox. A silent NAS costs
// only time here: the account change is already committed.
//
// Concurrent, with no transaction open across the network: requests are claimed in a short
// transaction (store/coa-queue.ts: status sending, a claim token, a lease), at most
// COA_WINDOW_PER_NAS unrecorded per NAS (counting every dispatcher's claims) and at most
// COA_MAX_IN_FLIGHT held by this process; each is sent on its own; outcomes are recorded in
// batches, each row only if it is still under our claim, and only those rows' events enqueued.
// So a silent NAS fills its own window and no more, a dead dispatcher's claims are taken again
// when their lease runs out, and two dispatchers report each request exactly once.
import { randomUUID } from "node:crypto";
import { enqueue } from "../../shared/outbox.js";
import { follow } from "../../shared/messages.js";
import type { ServiceDeps } from "../../shared/service.js";
import { sendCoa, type CoaResult } from "./adapters/coa.js";
import { leaseMs, leaseTooShort, singleFlight } from "./coa-window.js";
import { claimCoa, recordCoaOutcomes, type ClaimedCoa, type CoaOutcome, type RecordedCoa } from "./store/coa-queue.js";

export interface DispatcherConfig {
  readonly COA_TIMEOUT_MS: number;
  readonly COA_ATTEMPTS: number;
  readonly COA_POLL_MS: number;
  /** Unrecorded claims per NAS, across dispatchers. */
  readonly COA_WINDOW_PER_NAS: number;
  /** Claims this process holds at once (sending or waiting to be recorded). */
  readonly COA_MAX_IN_FLIGHT: number;
  /** How long a claim lasts; by default every attempt's timeout plus a margin (coa-window.ts). */
  readonly COA_LEASE_MS?: number | undefined;
  /** Only these tenants' requests (a test or a benchmark on the shared database); all when absent. */
  readonly tenants?: readonly string[] | undefined;
}

/** Outcomes written per transaction at most. */
const recordBatch = 500;

export function startDispatcher(deps: Pick<ServiceDeps, "db" | "tables" | "catalog" | "relay" | "ctx" | "logger">, config: DispatcherConfig) {
  const log = deps.logger.child({ component: "coa-dispatcher" });
  const lease = leaseMs(config);
  if (leaseTooShort(config)) {
    log.warn({ lease_ms: lease, attempts: config.COA_ATTEMPTS, timeout_ms: config.COA_TIMEOUT_MS }, "COA_LEASE_MS is not longer than every attempt's timeout: a slow request may be claimed again and sent twice (still reported once)");
  }
  let stopped = false;
  /** Claimed by this process and not yet recorded. */
  let held = 0;
  const sending = new Set<Promise<void>>();
  const finished: Array<{ req: ClaimedCoa; result: CoaResult | { outcome: "unknown_nas" | "error"; errorCause: null; attempts: 0 } }> = [];

  const send = (req: ClaimedCoa): void => {
    const l = log.child({ tenant_id: req.tenantId, subscriber_id: req.subscriberId, correlation_id: req.correlationId, nas_id: req.nasId });
    const p = (async () => {
      if (!req.target) {
        // The NAS was removed from the registry since: nothing to send to, and the session (if it
        // still runs) keeps its old state.
        l.warn({ kind: req.kind, username: req.username }, "the request's NAS is no longer registered: recorded as unknown_nas");
        finished.push({ req, result: { outcome: "unknown_nas", errorCause: null, attempts: 0 } });
        return;
      }
      const result = await sendCoa(req.kind, req.attributes, req.target, config.COA_ATTEMPTS, config.COA_TIMEOUT_MS).catch((err: unknown) => {
        // A request that cannot be built (a RADIUS dictionary missing, an attribute it does not
        // know) never will be: recorded as error, not as the NAS's NAK, rather than retried forever.
        l.error({ err, kind: req.kind }, "CoA request could not be built or sent");
        return { outcome: "error" as const, errorCause: null, attempts: 0 as const };
      });
      finished.push({ req, result });
    })().finally(() => {
      sending.delete(p);
      recorder.trigger();
    });
    sending.add(p);
  };

  const report = (r: RecordedCoa) => {
    const cause = { meta: { event_id: r.causeEventId, tenant_id: r.tenantId, subscriber_id: r.subscriberId, correlation_id: r.correlationId ?? r.causeEventId } };
    return follow(deps.ctx, cause, "RadiusCoaCompleted", {
      username: r.username,
      kind: r.kind,
      nas_id: r.nasId,
      nas_address: null,
      outcome: r.status,
      error_cause: r.errorCause,
      attempts: r.attempts,
    });
  };

  /** Records what has finished, a batch per transaction, then lets the claimer fill the freed window. */
  let recordFailures = 0;
  const recorder = singleFlight(
    async () => {
      // One turn of the event loop first: answers that arrived together are recorded together.
      await new Promise((resolve) => setImmediate(resolve));
      while (finished.length > 0) {
        const batch = finished.splice(0, recordBatch);
        const outcomes: CoaOutcome[] = batch.map(({ req, result }) => ({ id: req.id, claimToken: req.claimToken, status: result.outcome, errorCause: result.errorCause, attempts: result.attempts }));
        let recorded: RecordedCoa[];
        try {
          recorded = await deps.db.transaction(async (tx) => {
            const won = await recordCoaOutcomes(tx, outcomes);
            await enqueue(tx, deps.tables, deps.catalog, won.map((r) => ({ message: report(r) })));
            return won;
          });
        } catch (err) {
          recordFailures++;
          if (stopped && recordFailures >= 3) {
            // Not recorded: the claims' leases run out and another dispatcher sends these again.
            held -= batch.length;
            log.error({ err, requests: batch.length }, "CoA outcomes could not be recorded while stopping; they will be sent again after their lease");
            continue;
          }
          finished.unshift(...batch);
          log.error({ err, requests: batch.length }, "recording CoA outcomes failed; retrying");
          await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(recordFailures, 6))));
          continue;
        }
        recordFailures = 0;
        held -= batch.length;
        if (recorded.length > 0) deps.relay.wake();
        const won = new Set(recorded.map((r) => r.id));
        for (const { req, result } of batch) {
          const l = log.child({ tenant_id: req.tenantId, subscriber_id: req.subscriberId, correlation_id: req.correlationId, nas_id: req.nasId });
          const fields = { kind: req.kind, username: req.username, outcome: result.outcome, error_cause: result.errorCause, attempts: result.attempts };
          if (!won.has(req.id)) l.warn(fields, `${req.kind} request ${result.outcome}, not recorded: its claim ran out and the request was claimed again`);
          else if (result.outcome === "ack") l.info(fields, `${req.kind} request ${result.outcome}`);
          else l.warn(fields, `${req.kind} request ${result.outcome}`);
        }
        claimer.trigger();
      }
    },
    (err) => log.error({ err }, "recording CoA outcomes failed"),
  );

  /** Claims what the windows and the in-flight bound allow, and starts sending it. */
  const claimer = singleFlight(
    async () => {
      while (!stopped) {
        const free = config.COA_MAX_IN_FLIGHT - held;
        if (free <= 0) return;
        const claimed = await claimCoa(deps.db, { limit: free, window: config.COA_WINDOW_PER_NAS, leaseMs: lease, token: randomUUID(), tenants: config.tenants });
        held += claimed.length;
        for (const req of claimed) send(req);
        if (claimed.length < free) return; // all that the windows allow now; a recorded outcome or a wake asks again
      }
    },
    (err) => log.error({ err }, "claiming CoA requests failed; retrying at the next poll"),
  );

  const poll = setInterval(() => claimer.trigger(), config.COA_POLL_MS);
  claimer.trigger();

  return {
    wake(): void {
      if (!stopped) claimer.trigger();
    },
    /** Claims nothing more; waits for the requests in flight (bounded by their timeouts) and records them. */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(poll);
      await claimer.idle();
      while (sending.size > 0) await Promise.all([...sending]);
      await recorder.idle();
    },
  };
}
