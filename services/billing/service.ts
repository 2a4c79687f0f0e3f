// The billing service: folds every lifecycle event of a subscriber into its view; on
// OnuActivated / OnuActivationSkipped records a billing service for the plan (status active), or
// fails when the tenant has no price for it; after a failed provisioning, cancels the record
// first of all steps (billing is last in the chain, so first to undo). Later in the lifecycle:
// suspend / resume, plan changes with a plan history, and termination in the teardown order.
import { fileURLToPath } from "node:url";
import type { EventName, Message } from "../../schemas/generated/events.js";
import type { Handler, Handlers } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Delivery } from "../../shared/outbox.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { evolveView } from "../../shared/subscriber-view.js";
import { topics } from "../../shared/topics.js";
import { decide, initialBillingState, InvalidDate, isTrigger, needsPrice, type BillingDecision } from "./decide.js";
import { formatPrice } from "./price.js";
import { applyEffect, findPrice, loadSubscriber, saveSubscriber } from "./store/billing.js";
import * as store from "./store/schema.js";

export const billingConfig = {};

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/** The one place listing what billing reacts to: every event that changes its view of a subscriber. */
export const reactsTo = [
  "SubscriberCreated",
  "NetworkProfileCreated",
  "NetworkProfileUpdated",
  "NetworkProfileSkipped",
  "NetworkProfileDeleted",
  "IpAllocated",
  "IpReleased",
  "RadiusAccountCreated",
  "RadiusAccountDeleted",
  "OnuActivated", // a trigger
  "OnuActivationSkipped", // a trigger
  "OnuDeactivated",
  "BillingServiceCreated", // our own: the success that may have to be undone
  "BillingServiceCancelled",
  "BillingServiceTerminated",
  "SubscriberProvisioningFailed",
  "SubscriberProvisioned",
  "SubscriberSuspendRequested", // a trigger
  "SubscriberSuspended",
  "SubscriberResumeRequested", // a trigger
  "SubscriberResumed",
  "SubscriberPlanChangeRequested", // a trigger
  "SubscriberTerminationRequested", // teardown: our turn after RADIUS, ONU and IPs
  "SubscriberArchived",
] as const satisfies readonly EventName[];

export function billingHandlers(deps: ServiceDeps): Handlers {
  const { once, ctx } = deps;

  async function handle(message: Message, delivery: Delivery, log: Logger): Promise<void> {
    const subscriberId = message.meta.subscriber_id;
    if (!subscriberId) throw new PoisonMessageError("invalid", `${message.type} without a subscriber_id`);
    await once(message, delivery, async (tx) => {
      const row = await loadSubscriber(tx, message.meta.tenant_id, subscriberId);
      const view = evolveView(row?.view ?? null, message);
      if (!view) {
        if (isTrigger(message)) {
          throw new PoisonMessageError("invalid", `${message.type} for subscriber ${subscriberId}, whose SubscriberCreated was never seen`);
        }
        log.debug("no SubscriberCreated seen for this subscriber, skipped");
        return [];
      }
      const state = row?.state ?? initialBillingState;
      const price = needsPrice(message) ? await findPrice(tx, view.tenant_id, view.service_plan_id) : null;
      let decision: BillingDecision;
      try {
        decision = decide(view, state, message, price, ctx);
      } catch (err) {
        if (err instanceof InvalidDate) throw new PoisonMessageError("invalid", err.message);
        throw err;
      }
      for (const effect of decision.effects) await applyEffect(tx, effect);
      for (const e of decision.events) logOutcome(log, e, price);
      await saveSubscriber(tx, view, decision.state);
      return decision.events.map((m) => ({ message: m }));
    });
  }

  return Object.fromEntries(reactsTo.map((type) => [type, handle as Handler])) as Handlers;
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
    handlers: (deps) => billingHandlers(deps),
  };
}
