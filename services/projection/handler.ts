// The projection's reaction: every lifecycle event of a batch is folded into its subscriber's
// document (loaded and saved in bulk by the runtime), and each document that changed is
// published once per batch on service-metadata.v1: the topic is compacted, so the latest
// version per subscriber is what it keeps anyway. The list of events is derived from the
// contract, so a new lifecycle event type is folded too.
import { eventTopics, type EventName } from "../../schemas/generated/events.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { follow } from "../../shared/messages.js";
import { keyedReactor } from "../../shared/reactor.js";
import type { ServiceDeps } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { fold, snapshotOf } from "./fold.js";
import { documentStore } from "./store/entities.js";

/** The events the projection reacts to: every record type of subscriber.lifecycle.v1. */
export const reactsTo: ReadonlySet<EventName> = new Set((Object.keys(eventTopics) as EventName[]).filter((t) => eventTopics[t] === topics.lifecycle));

export function projectionReactor(deps: ServiceDeps): BatchReactor {
  return keyedReactor(deps, {
    accepts: (type, topic) => topic === topics.lifecycle && reactsTo.has(type),
    store: documentStore,
    // The fold skips an event already in the timeline, so the documents are their own inbox.
    inbox: false,
    async react({ message, state }) {
      const after = fold(state ?? null, message);
      return { state: after };
    },
    settle: (changed) =>
      changed.map(({ state, last }) => {
        last.log.debug({ status: state.status, timeline_length: state.timeline.length }, "service metadata updated");
        return { message: follow(deps.ctx, last.message, "ServiceMetadata", snapshotOf(state)) };
      }),
  });
}
