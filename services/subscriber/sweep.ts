// The deadline sweep: a subscriber still provisioning with no lifecycle event for
// PROVISIONING_DEADLINE_MS fails at the step we wait for; a suspend, resume or plan change with
// no answer for LIFECYCLE_ORDER_DEADLINE_MS ends OrderFailed. Rows are locked with SKIP LOCKED, so
// two instances never fail the same subscriber twice, and a handler holding a row defers it.
import { enqueue } from "../../shared/outbox.js";
import { decideDeadline, decideOrderDeadline } from "./decide-outcome.js";
import { logTransition } from "./handler.js";
import type { SubscriberDeps } from "./service.js";
import { lockStale, lockStalePending, saveTracked, toTracked } from "./store/subscribers.js";

const batch = 100;

/** One pass; returns how many subscribers it failed. */
export async function sweepOnce(deps: SubscriberDeps): Promise<number> {
  const { db, ctx, tables, catalog, logger, config } = deps;
  const now = ctx.now();
  const deadlineMs = config.PROVISIONING_DEADLINE_MS;
  const fired = await db.transaction(async (tx) => {
    let n = 0;
    for (const row of await lockStale(tx, new Date(now - deadlineMs), batch, config.DEADLINE_SWEEP_TENANTS)) {
      const before = toTracked(row);
      const decision = decideDeadline(before, { now, deadlineMs }, ctx);
      if (decision.outgoing.length === 0) continue;
      await saveTracked(tx, row.tenantId, decision.state);
      await enqueue(tx, tables, catalog, decision.outgoing);
      const log = logger.child({ subscriber_id: row.subscriberId, correlation_id: row.correlationId, tenant_id: row.tenantId, cause_event_id: row.lastEventId });
      log.warn({ deadline_ms: deadlineMs, idle_ms: now - before.last_progress_at }, "no progress before the deadline");
      logTransition(log, before, decision.state);
      n++;
    }
    return n;
  });
  const orders = await sweepOrders(deps, now);
  if (fired + orders > 0) deps.relay.wake();
  return fired + orders;
}

/** Lifecycle orders in flight with no answer for LIFECYCLE_ORDER_DEADLINE_MS: each ends OrderFailed. */
async function sweepOrders(deps: SubscriberDeps, now: number): Promise<number> {
  const { db, ctx, tables, catalog, logger, config } = deps;
  const deadlineMs = config.LIFECYCLE_ORDER_DEADLINE_MS;
  return db.transaction(async (tx) => {
    let n = 0;
    for (const row of await lockStalePending(tx, new Date(now - deadlineMs), batch, config.DEADLINE_SWEEP_TENANTS)) {
      const before = toTracked(row);
      const decision = decideOrderDeadline(before, { now, deadlineMs }, ctx);
      if (decision.outgoing.length === 0) continue;
      await saveTracked(tx, row.tenantId, decision.state);
      await enqueue(tx, tables, catalog, decision.outgoing);
      logger
        .child({ subscriber_id: row.subscriberId, tenant_id: row.tenantId, order_id: before.pending?.order_id, order_type: before.pending?.order_type })
        .warn({ deadline_ms: deadlineMs, answers: before.pending?.answers }, "lifecycle order without an answer before the deadline: failed");
      n++;
    }
    return n;
  });
}

export function startDeadlineSweep(deps: SubscriberDeps): { stop(): Promise<void> } {
  const log = deps.logger.child({ component: "deadline-sweep" });
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    // A failed pass (database down) changes nothing; the next tick tries again.
    inFlight = sweepOnce(deps)
      .then(() => undefined, (err: unknown) => log.error({ err }, "deadline sweep failed, retrying at the next tick"))
      .finally(() => (inFlight = undefined));
  }, deps.config.DEADLINE_SWEEP_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
