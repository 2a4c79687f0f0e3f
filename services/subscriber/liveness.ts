// Whether the profile service is answering at all, as this subscriber process sees it on the
// lifecycle topic: the time it last consumed an answer of the profile step (for any subscriber).
// The profile deadline skips a subscriber's profile only while the profile service is silent, so
// a profile service that is merely behind (a mass provisioning) is waited for, not skipped.
// In memory, per process: after a restart the clock starts at the start.
import type { Message } from "../../schemas/generated/events.js";

export class ProfileLiveness {
  private lastAnswer: number;

  constructor(now: number) {
    this.lastAnswer = now;
  }

  /** Every lifecycle event this process consumes passes here; the profile service's answers count. */
  saw(m: Message, now: number): void {
    if (m.meta.producer !== "profile") return;
    if (m.type === "NetworkProfileCreated" || m.type === "NetworkProfileSkipped" || m.type === "NetworkProfileCreationFailed") this.lastAnswer = now;
  }

  /** How long the profile service has given no answer. */
  silentFor(now: number): number {
    return now - this.lastAnswer;
  }
}

const byService = new WeakMap<object, ProfileLiveness>();

/** The one liveness of a running subscriber service (keyed by its database client, unique per service). */
export function profileLiveness(key: object, now: number): ProfileLiveness {
  let l = byService.get(key);
  if (!l) byService.set(key, (l = new ProfileLiveness(now)));
  return l;
}
