// Provisioning progress of one subscriber, as every service can see it on the lifecycle topic.
// Pure. Each service folds the lifecycle events it receives into a Progress kept beside its own
// state, and asks `mayCompensate(progress, itsStep)` to know when to undo its work after a
// failure: a step undoes its work only once every later step that succeeded has undone its own,
// which gives the order of ARCHITECTURE.md (billing, olt, radius, ipam, profile) without an
// orchestrator. The subscriber service asks `rolledBack` to know when all are in.
import type { EventName, Message } from "../schemas/generated/events.js";

export const provisionSteps = ["profile", "ipam", "radius", "olt", "billing"] as const;
export type Step = (typeof provisionSteps)[number];

export interface Progress {
  readonly succeeded: readonly Step[];
  readonly compensated: readonly Step[];
  readonly failure: { readonly step: string; readonly reason: string } | null;
  readonly provisioned: boolean;
}

export const initialProgress: Progress = { succeeded: [], compensated: [], failure: null, provisioned: false };

const successes: Partial<Record<EventName, Step>> = {
  NetworkProfileCreated: "profile",
  IpAllocated: "ipam",
  RadiusAccountCreated: "radius",
  OnuActivated: "olt",
  BillingServiceCreated: "billing",
};

const compensations: Partial<Record<EventName, Step>> = {
  NetworkProfileDeleted: "profile",
  IpReleased: "ipam",
  RadiusAccountDeleted: "radius",
  OnuDeactivated: "olt",
  BillingServiceCancelled: "billing",
};

/** The step whose success event this is, if any. */
export const stepOfSuccess = (type: EventName): Step | undefined => successes[type];
/** The step whose compensation event this is, if any. */
export const stepOfCompensation = (type: EventName): Step | undefined => compensations[type];

const add = (list: readonly Step[], step: Step): readonly Step[] => (list.includes(step) ? list : [...list, step]);

export function evolveProgress(p: Progress, m: Message): Progress {
  const success = successes[m.type];
  if (success) return { ...p, succeeded: add(p.succeeded, success) };
  const compensation = compensations[m.type];
  // Only compensations during a rollback count here; a termination tears down through its own flow.
  if (compensation && p.failure) return { ...p, compensated: add(p.compensated, compensation) };
  switch (m.type) {
    case "SubscriberProvisioningFailed":
      return p.failure || p.provisioned ? p : { ...p, failure: { step: m.data.step, reason: m.data.reason } };
    case "SubscriberProvisioned":
      return { ...p, provisioned: true };
    default:
      return p;
  }
}

/** True when `step` should undo its work now: failed, it succeeded, and every later success is undone. */
export function mayCompensate(p: Progress, step: Step): boolean {
  if (!p.failure || !p.succeeded.includes(step) || p.compensated.includes(step)) return false;
  const later = provisionSteps.slice(provisionSteps.indexOf(step) + 1);
  return later.every((s) => !p.succeeded.includes(s) || p.compensated.includes(s));
}

/** True when a failed provisioning has undone every step that succeeded. */
export const rolledBack = (p: Progress): boolean =>
  p.failure !== null && p.succeeded.every((s) => p.compensated.includes(s));

/** Steps still to undo, latest first (for logs and the projection). */
export const pendingCompensations = (p: Progress): Step[] =>
  p.failure ? [...provisionSteps].reverse().filter((s) => p.succeeded.includes(s) && !p.compensated.includes(s)) : [];
