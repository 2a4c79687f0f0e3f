// Thin handler: load the subscriber's document, fold the event in, store it and publish the
// snapshot through the outbox, all in one transaction (deps.once). The projection reacts to every
// lifecycle event; that list is derived from the contract, so a new event type is folded too.
import { eventTopics, type EventName, type Message } from "../../schemas/generated/events.js";
import type { Handler, Handlers } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import { follow } from "../../shared/messages.js";
import type { ServiceDeps } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { fold, snapshotOf } from "./fold.js";
import { loadDocument, saveDocument } from "./store/entities.js";

/** The events the projection reacts to: every record type of subscriber.lifecycle.v1. */
export const reactsTo: readonly EventName[] = (Object.keys(eventTopics) as EventName[]).filter((t) => eventTopics[t] === topics.lifecycle);

export function projectionHandlers(deps: ServiceDeps): Handlers {
  const handle: Handler = async (message: Message, delivery, log) => {
    const subscriberId = message.meta.subscriber_id;
    if (!subscriberId) throw new PoisonMessageError("invalid", `${message.type} on the lifecycle topic carries no subscriber_id`);
    await deps.once(message, delivery, async (tx) => {
      const before = await loadDocument(tx, message.meta.tenant_id, subscriberId);
      const after = fold(before, message);
      if (after === before) return [];
      await saveDocument(tx, after);
      log.debug({ status: after.status, timeline_length: after.timeline.length }, "service metadata updated");
      return [{ message: follow(deps.ctx, message, "ServiceMetadata", snapshotOf(after)) }];
    });
  };
  return Object.fromEntries(reactsTo.map((type) => [type, handle])) as Handlers;
}
