// Termination without an orchestrator, in the seed's order: the RADIUS account (and the
// session) goes first, then the ONU, then the IPs (only once no RADIUS account can hand them
// out), then billing, then the network profile (soft-deleted, after RADIUS, ONU and IPs are
// gone), then the subscriber is archived. Pure. Each service folds the lifecycle into its
// SubscriberView and tears its part down when `teardownDue(view, itsStep)` is true: the
// subscriber is terminating, its part still exists, and every part before it is gone. A part a
// subscriber never had (no ONU on a wireless line) is simply skipped.
import { phaseOf, type SubscriberView } from "./subscriber-view.js";

export const teardownSteps = ["radius", "olt", "ipam", "billing", "profile"] as const;
export type TeardownStep = (typeof teardownSteps)[number];

const holds: Record<TeardownStep, (v: SubscriberView) => boolean> = {
  radius: (v) => v.radius_username !== null,
  olt: (v) => v.onu_id !== null,
  ipam: (v) => v.ips !== null,
  billing: (v) => v.billing_service_id !== null,
  profile: (v) => v.network_profile_id !== null,
};

/** The parts the subscriber still holds, in teardown order. */
export const remainingParts = (v: SubscriberView): TeardownStep[] => teardownSteps.filter((s) => holds[s](v));

/**
 * True when `step` should tear its part down now. An archived subscriber still holding a part
 * got it late (a profile service back after its deadline stores the profile it missed, after the
 * teardown went by without it): that part goes too.
 */
export function teardownDue(v: SubscriberView, step: TeardownStep): boolean {
  const phase = phaseOf(v);
  if ((phase !== "terminating" && phase !== "archived") || !holds[step](v)) return false;
  return teardownSteps.slice(0, teardownSteps.indexOf(step)).every((s) => !holds[s](v));
}

/** True when a terminating subscriber holds nothing any more: time to archive. */
export const tornDown = (v: SubscriberView): boolean => phaseOf(v) === "terminating" && remainingParts(v).length === 0;
