// Sends the pending CoA / Disconnect requests (written with the account change, so they survive a
// crash) and reports each outcome as RadiusCoaCompleted through the outbox. A silent NAS costs
// only time here: the account change is already committed.
import { enqueue } from "../../shared/outbox.js";
import { follow } from "../../shared/messages.js";
import type { ServiceDeps } from "../../shared/service.js";
import { sendCoa } from "./adapters/coa.js";
import * as store from "./store/store.js";

export interface DispatcherConfig {
  readonly COA_TIMEOUT_MS: number;
  readonly COA_ATTEMPTS: number;
  readonly COA_POLL_MS: number;
}

export function startDispatcher(deps: Pick<ServiceDeps, "db" | "tables" | "catalog" | "relay" | "ctx" | "logger">, config: DispatcherConfig) {
  const log = deps.logger.child({ component: "coa-dispatcher" });
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let woken = false;

  /** Sends one pending request; false when there was none. The row stays locked while the NAS is asked. */
  const sendOne = async (): Promise<boolean> =>
    deps.db.transaction(async (tx) => {
      const req = await store.lockPendingCoa(tx);
      if (!req) return false;
      const l = log.child({ tenant_id: req.tenantId, subscriber_id: req.subscriberId, correlation_id: req.correlationId, nas_id: req.nasId });
      const result = await sendCoa(req.kind, req.attributes, { address: req.address, port: req.coaPort, secret: req.secret }, config.COA_ATTEMPTS, config.COA_TIMEOUT_MS).catch(
        (err: unknown) => {
          // A request that cannot be encoded never will be: recorded as refused rather than retried forever.
          l.error({ err, kind: req.kind }, "CoA request could not be sent");
          return { outcome: "nak" as const, errorCause: null, attempts: 0 };
        },
      );
      await store.completeCoa(tx, req.id, result.outcome, result.errorCause, result.attempts);
      const cause = { meta: { event_id: req.causeEventId, tenant_id: req.tenantId, subscriber_id: req.subscriberId, correlation_id: req.correlationId ?? req.causeEventId } };
      const event = follow(deps.ctx, cause, "RadiusCoaCompleted", {
        username: req.username,
        kind: req.kind,
        nas_id: req.nasId,
        outcome: result.outcome,
        error_cause: result.errorCause,
        attempts: result.attempts,
      });
      await enqueue(tx, deps.tables, deps.catalog, [{ message: event }]);
      (result.outcome === "ack" ? l.info : l.warn).call(l, { kind: req.kind, username: req.username, outcome: result.outcome, error_cause: result.errorCause, attempts: result.attempts }, `${req.kind} request ${result.outcome}`);
      return true;
    });

  const loop = (async () => {
    while (!stopped) {
      try {
        while (!stopped && (await sendOne())) deps.relay.wake();
      } catch (err) {
        log.error({ err }, "CoA dispatch failed; retrying");
      }
      if (stopped) break;
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.COA_POLL_MS);
          wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      woken = false;
      wakeUp = undefined;
    }
  })();

  return {
    wake(): void {
      woken = true;
      wakeUp?.();
    },
    async stop(): Promise<void> {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}
