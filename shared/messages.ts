// Building follow-on messages. Pure: ids and the clock come in from the caller, so a decision
// test can check every field of every event it produces.
import type { EventData, EventName, Message, Meta } from "../schemas/generated/events.js";

export interface EventContext {
  readonly producer: string;
  readonly now: () => number;
  readonly newId: () => string;
}

/** A message of `type` caused by `cause`: same tenant, subscriber and correlation, causation = cause. */
export function follow<K extends EventName>(
  ctx: EventContext,
  cause: { readonly meta: Pick<Meta, "event_id" | "tenant_id" | "subscriber_id" | "correlation_id"> },
  type: K,
  data: EventData<K>,
  meta: Partial<Pick<Meta, "subscriber_id" | "tenant_id">> = {},
): Message<K> {
  return {
    type,
    meta: {
      event_id: ctx.newId(),
      occurred_at: ctx.now(),
      tenant_id: meta.tenant_id ?? cause.meta.tenant_id,
      subscriber_id: meta.subscriber_id ?? cause.meta.subscriber_id,
      correlation_id: cause.meta.correlation_id,
      causation_id: cause.meta.event_id,
      producer: ctx.producer,
    },
    data,
  } as Message<K>;
}
