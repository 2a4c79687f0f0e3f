// The billing service's decisions, pure: given what it knows of a subscriber (the view, already
// evolved with the incoming event), its own state and the tenant's price for the plan, which
// events to emit and which changes to make to the billing records.
import type { Message } from "../../schemas/generated/events.js";
import { follow, type EventContext } from "../../shared/messages.js";
import { mayCompensate } from "../../shared/progress.js";
import type { SubscriberView } from "../../shared/subscriber-view.js";

export type BillingStatus = "active" | "cancelled" | "suspended" | "terminated";

/** What billing itself decided for one subscriber. */
export interface BillingState {
  readonly outcome: "created" | "failed" | null;
  readonly service_id: string | null;
  readonly cancelled: boolean;
}

export const initialBillingState: BillingState = { outcome: null, service_id: null, cancelled: false };

export interface Price {
  readonly monthly_price_cents: number;
  readonly currency: string;
}

export type BillingEffect =
  | {
      readonly kind: "create-service";
      readonly service_id: string;
      readonly tenant_id: string;
      readonly subscriber_id: string;
      readonly plan_id: string;
      readonly price: Price;
      readonly started_at: number;
    }
  | { readonly kind: "cancel-service"; readonly tenant_id: string; readonly service_id: string; readonly ended_at: number };

export interface BillingDecision {
  readonly events: readonly Message[];
  readonly effects: readonly BillingEffect[];
  readonly state: BillingState;
}

/** ONU activated, or no ONU to activate: the line is up, billing starts. */
export const isTrigger = (m: Message): boolean => m.type === "OnuActivated" || m.type === "OnuActivationSkipped";

export function decide(view: SubscriberView, state: BillingState, event: Message, price: Price | null, ctx: EventContext): BillingDecision {
  const none: BillingDecision = { events: [], effects: [], state };
  const serviceId = state.service_id ?? view.billing_service_id;
  if (mayCompensate(view.progress, "billing") && !state.cancelled && serviceId) {
    const ended_at = ctx.now();
    return {
      events: [follow(ctx, event, "BillingServiceCancelled", { service_id: serviceId, reason: "rollback" })],
      effects: [{ kind: "cancel-service", tenant_id: view.tenant_id, service_id: serviceId, ended_at }],
      state: { ...state, service_id: serviceId, cancelled: true },
    };
  }
  if (!isTrigger(event) || state.outcome !== null) return none;
  // Provisioning failed before our turn came: nothing to bill, nothing to undo.
  if (view.progress.failure) return none;
  if (!price) {
    return {
      events: [
        follow(ctx, event, "BillingServiceCreationFailed", {
          code: "price_not_configured",
          reason: `no price configured for plan ${view.service_plan_id} of tenant ${view.tenant_id}`,
        }),
      ],
      effects: [],
      state: { ...state, outcome: "failed" },
    };
  }
  const service_id = ctx.newId();
  return {
    events: [follow(ctx, event, "BillingServiceCreated", { service_id, service_plan_id: view.service_plan_id, status: "active" })],
    effects: [
      {
        kind: "create-service",
        service_id,
        tenant_id: view.tenant_id,
        subscriber_id: view.subscriber_id,
        plan_id: view.service_plan_id,
        price,
        started_at: ctx.now(),
      },
    ],
    state: { ...state, outcome: "created", service_id },
  };
}
