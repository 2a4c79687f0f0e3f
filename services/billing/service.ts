// The billing service: folds every lifecycle event of a subscriber into its view; on
// OnuActivated / OnuActivationSkipped records a billing service for the plan (status active), or
// fails when the tenant has no price for it; after a failed provisioning, cancels the record
// first of all steps (billing is last in the chain, so first to undo). Later in the lifecycle:
// suspend / resume, plan changes with a plan history, and termination in the teardown order.
import { fileURLToPath } from "node:url";
import type { EventName, Message } from "../../schemas/generated/events.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { viewReactor } from "../../shared/reactor.js";
import { topics } from "../../shared/topics.js";
import { decide, initialBillingState, InvalidDate, isTrigger, needsPrice, type BillingDecision, type BillingState } from "./decide.js";
import { formatPrice } from "./price.js";
import { EffectBatch, findPrice } from "./store/billing.js";
import * as store from "./store/schema.js";
import { subscriberState } from "./store/schema.js";

export const billingConfig = {};

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/** What billing decides on beyond the shared view (shared/subscriber-view.ts viewEvents). */
export const triggers = ["OnuActivationSkipped", "SubscriberSuspendRequested", "SubscriberResumeRequested"] as const satisfies readonly EventName[];

export function billingReactor(deps: ServiceDeps): BatchReactor {
  const { ctx } = deps;
  return viewReactor<BillingState>({ ...deps, topic: topics.lifecycle }, {
    initial: initialBillingState,
    table: subscriberState,
    triggers,
    // decide is pure (effects as data): no price needed, no effect and no event is certain to cause nothing.
    quiet: ({ message, view, state }) => {
      if (!view) return isTrigger(message) ? undefined : state;
      if (needsPrice(message)) return undefined;
      try {
        const d = decide(view, state, message, null, ctx);
        return d.effects.length === 0 && d.events.length === 0 ? d.state : undefined;
      } catch {
        return undefined; // react says why
      }
    },
    async react({ tx, unit, message, view, state, log }) {
      if (!view) {
        if (isTrigger(message)) {
          throw new PoisonMessageError("invalid", `${message.type} for subscriber ${message.meta.subscriber_id}, whose SubscriberCreated was never seen`);
        }
        log.debug("no SubscriberCreated seen for this subscriber, skipped");
        return {};
      }
      // A tenant's prices are read once per unit of work, not once per subscriber.
      const price = needsPrice(message) ? await unit.get(`price\u0000${view.tenant_id}\u0000${view.service_plan_id}`, () => findPrice(tx, view.tenant_id, view.service_plan_id)) : null;
      let decision: BillingDecision;
      try {
        decision = decide(view, state, message, price, ctx);
      } catch (err) {
        if (err instanceof InvalidDate) throw new PoisonMessageError("invalid", err.message);
        throw err;
      }
      const batch = unit.get("billing-effects", () => {
        const b = new EffectBatch(tx);
        unit.beforeCommit(() => b.flush());
        return b;
      });
      for (const effect of decision.effects) await batch.apply(effect);
      for (const e of decision.events) logOutcome(log, e, price);
      return { state: decision.state, out: decision.events.map((m) => ({ message: m })), effect: decision.effects.length > 0 };
    },
  });
}

function logOutcome(log: Logger, e: Message, price: { monthly_price_cents: number; currency: string } | null): void {
  switch (e.type) {
    case "BillingServiceCreated":
      log.info(
        { service_id: e.data.service_id, service_plan_id: e.data.service_plan_id, status: e.data.status, price },
        `Created billing service: ${e.data.service_id} for plan ${e.data.service_plan_id}${price ? ` (${formatPrice(price.monthly_price_cents, price.currency)} per month)` : ""}`,
      );
      return;
    case "BillingServiceCreationFailed":
      log.warn({ code: e.data.code, reason: e.data.reason }, "Billing service creation failed");
      return;
    case "BillingServiceCancelled":
      log.info({ service_id: e.data.service_id, reason: e.data.reason }, `Billing service cancelled: ${e.data.service_id}`);
      return;
    case "BillingServiceSuspended":
      log.info({ service_id: e.data.service_id }, `Billing service suspended: ${e.data.service_id}`);
      return;
    case "BillingServiceResumed":
      log.info({ service_id: e.data.service_id }, `Billing service resumed: ${e.data.service_id}`);
      return;
    case "BillingPlanChanged":
      log.info(
        { service_id: e.data.service_id, service_plan_id: e.data.service_plan_id, effective_date: e.data.effective_date, price },
        `Billing plan changed: ${e.data.service_id} to ${e.data.service_plan_id} from ${e.data.effective_date}${price ? ` (${formatPrice(price.monthly_price_cents, price.currency)} per month)` : ""}`,
      );
      return;
    case "BillingPlanChangeFailed":
      log.warn({ service_id: e.data.service_id, service_plan_id: e.data.service_plan_id, code: e.data.code, reason: e.data.reason }, "Billing plan change failed");
      return;
    case "BillingServiceTerminated":
      log.info({ service_id: e.data.service_id }, `Billing service terminated: ${e.data.service_id}`);
      return;
    default:
      return;
  }
}

export function definition(): ServiceDefinition<typeof billingConfig> {
  return {
    name: "billing",
    tables: { schema: store.schema, inbox: store.inbox, outbox: store.outbox },
    migrationsFolder,
    consumes: [topics.lifecycle],
    config: billingConfig,
    reactor: (deps) => billingReactor(deps),
  };
}
