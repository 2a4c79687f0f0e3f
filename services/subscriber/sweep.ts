// The deadline sweep: a new subscriber the profile service has not answered within
// PROFILE_DEADLINE_MS goes on without a profile; a subscriber still provisioning with no lifecycle event for
// PROVISIONING_DEADLINE_MS fails at the step we wait for; a suspend, resume or plan change with
// no answer for LIFECYCLE_ORDER_DEADLINE_MS ends OrderFailed. Rows are locked with SKIP LOCKED, so
// two instances never fail the same subscriber twice, and a handler holding a row defers it.
import { enqueue } from "../../shared/outbox.js";
import type { Tx } from "../../shared/outbox.js";
import { decideDeadline, decideOrderDeadline, decideProfileDeadline, type DeadlineInput, type Decision, type Tracked } from "./decide-outcome.js";
import { logTransition } from "./handler.js";
import type { SubscriberDeps } from "./service.js";
import { releaseScheduled } from "./decide-order.js";
import { profileLiveness } from "./liveness.js";
import { deleteScheduled, lockAwaitingProfile, lockDueChanges, lockStale, lockStalePending, lockSubscriber, saveTracked, toTracked } from "./store/subscribers.js";

const batch = 100;

type Row = Awaited<ReturnType<typeof lockStale>>[number];

/**
 * One kind of deadline, in one transaction: the rows `lock` finds idle for `deadlineMs`, each
 * decided by `decide`, saved with its outgoing events when it fired, and logged by `report`.
 */
async function sweepKind(
  deps: SubscriberDeps,
  now: number,
  deadlineMs: number,
  lock: (tx: Tx, before: Date, limit: number, tenants: readonly string[]) => Promise<Row[]>,
  decide: (state: Tracked, input: DeadlineInput, ctx: SubscriberDeps["ctx"]) => Decision,
  report: (row: Row, before: Tracked, after: Tracked) => void,
): Promise<number> {
  const { db, ctx, tables, catalog, config } = deps;
  return db.transaction(async (tx) => {
    let n = 0;
    for (const row of await lock(tx, new Date(now - deadlineMs), batch, config.DEADLINE_SWEEP_TENANTS)) {
      const before = toTracked(row);
      const decision = decide(before, { now, deadlineMs }, ctx);
      if (decision.outgoing.length === 0) continue;
      await saveTracked(tx, row.tenantId, decision.state);
      await enqueue(tx, tables, catalog, decision.outgoing);
      report(row, before, decision.state);
      n++;
    }
    return n;
  });
}

/**
 * Plan changes scheduled for today or earlier become the order in flight, in date order, one
 * transaction per pass; one whose subscriber has another order in flight waits for the next pass.
 */
async function releaseDue(deps: SubscriberDeps, now: number): Promise<number> {
  const { db, ctx, tables, catalog, config, logger } = deps;
  const today = new Date(now).toISOString().slice(0, 10);
  return db.transaction(async (tx) => {
    let n = 0;
    for (const due of await lockDueChanges(tx, today, batch, config.DEADLINE_SWEEP_TENANTS)) {
      const row = await lockSubscriber(tx, due.tenant_id, due.subscriber_id);
      const state = row ? toTracked(row) : null;
      const decision = releaseScheduled(due, state, ctx);
      const log = logger.child({ subscriber_id: due.subscriber_id, tenant_id: due.tenant_id, order_id: due.order_id, effective_date: due.effective_date });
      if (decision.kind === "wait") {
        log.debug({ why: decision.why }, "scheduled plan change due, waiting");
        continue;
      }
      if (decision.kind === "released" && state) {
        await saveTracked(tx, due.tenant_id, decision.state);
        log.info({ service_plan_id: due.service_plan_id, bandwidth_mbps: due.bandwidth_mbps }, "scheduled plan change released on its date");
      } else log.warn("scheduled plan change failed: the subscriber is no longer active");
      await enqueue(tx, tables, catalog, decision.outgoing);
      await deleteScheduled(tx, due.tenant_id, due.order_id);
      n++;
    }
    return n;
  });
}

/** One pass over the deadlines; returns how many subscribers and orders it moved on or failed. */
export async function sweepOnce(deps: SubscriberDeps): Promise<number> {
  const { ctx, logger, config } = deps;
  const now = ctx.now();
  // The profile service silent for PROFILE_DEADLINE_MS: provisioning goes on without it. One
  // that answers, however far behind (a mass provisioning), is waited for.
  const silent = profileLiveness(deps.sql, now).silentFor(now) >= config.PROFILE_DEADLINE_MS;
  const profiles = !silent ? 0 : await sweepKind(deps, now, config.PROFILE_DEADLINE_MS, lockAwaitingProfile, decideProfileDeadline, (row) =>
    logger
      .child({ subscriber_id: row.subscriberId, correlation_id: row.correlationId, tenant_id: row.tenantId })
      .warn({ deadline_ms: config.PROFILE_DEADLINE_MS }, "no answer from the profile service before its deadline: network profile skipped, provisioning goes on with the order's settings"),
  );
  const provisioning = await sweepKind(deps, now, config.PROVISIONING_DEADLINE_MS, lockStale, decideDeadline, (row, before, after) => {
    const log = logger.child({ subscriber_id: row.subscriberId, correlation_id: row.correlationId, tenant_id: row.tenantId, cause_event_id: row.lastEventId });
    log.warn({ deadline_ms: config.PROVISIONING_DEADLINE_MS, idle_ms: now - before.last_progress_at }, "no progress before the deadline");
    logTransition(log, before, after);
  });
  // Suspend, resume and plan change with no answer for LIFECYCLE_ORDER_DEADLINE_MS: each ends OrderFailed.
  const orders = await sweepKind(deps, now, config.LIFECYCLE_ORDER_DEADLINE_MS, lockStalePending, decideOrderDeadline, (row, before) =>
    logger
      .child({ subscriber_id: row.subscriberId, tenant_id: row.tenantId, order_id: before.pending?.order_id, order_type: before.pending?.order_type })
      .warn({ deadline_ms: config.LIFECYCLE_ORDER_DEADLINE_MS, answers: before.pending?.answers }, "lifecycle order without an answer before the deadline: failed"),
  );
  const released = await releaseDue(deps, now);
  if (profiles + provisioning + orders + released > 0) deps.relay.wake();
  return profiles + provisioning + orders + released;
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
