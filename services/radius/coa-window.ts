// The CoA dispatcher's scheduling rules, without I/O: which claimable requests to take (a bounded
// window per NAS, a bound over all), how long a claim lasts, and a single-flight runner that
// coalesces triggers (so claims and outcome writes batch themselves under load).

/** A NAS as the windows count it: the tenant's registered NAS id. */
export const nasKey = (tenantId: string, nasId: string): string => `${tenantId}\u0000${nasId}`;

export interface ClaimCandidate {
  readonly id: string;
  readonly nasKey: string;
  /** Requests of this NAS claimed by any dispatcher whose lease has not run out (its window in use). */
  readonly busy: number;
}

/**
 * From claimable requests, oldest first: the ids to claim, taking per NAS at most `window - busy`
 * and at most `limit` in all. Oldest first across NASes, so a NAS whose window is full (a silent
 * one) never keeps another NAS's requests waiting.
 */
export function pickClaims(candidates: readonly ClaimCandidate[], window: number, limit: number): string[] {
  const taken = new Map<string, number>();
  const ids: string[] = [];
  for (const c of candidates) {
    if (ids.length >= limit) break;
    const used = c.busy + (taken.get(c.nasKey) ?? 0);
    if (used >= window) continue;
    taken.set(c.nasKey, (taken.get(c.nasKey) ?? 0) + 1);
    ids.push(c.id);
  }
  return ids;
}

export interface LeaseSettings {
  readonly COA_ATTEMPTS: number;
  readonly COA_TIMEOUT_MS: number;
  readonly COA_LEASE_MS?: number | undefined;
}

/** Margin of the default lease over the longest exchange (every attempt timing out). */
export const leaseMarginMs = 15_000;

/** How long a claim lasts: the setting, or by default the longest exchange plus a margin. */
export function leaseMs(s: LeaseSettings): number {
  return s.COA_LEASE_MS ?? s.COA_ATTEMPTS * s.COA_TIMEOUT_MS + leaseMarginMs;
}

/** True when a lease can run out while its request is still being sent (then it may be sent twice, though recorded once). */
export const leaseTooShort = (s: LeaseSettings): boolean => leaseMs(s) <= s.COA_ATTEMPTS * s.COA_TIMEOUT_MS;

export interface SingleFlight {
  /** Runs the task now, or once more right after the run in progress. */
  trigger(): void;
  /** Resolves when no run is in progress or asked for. */
  idle(): Promise<void>;
}

/**
 * At most one run of `task` at a time; triggers during a run coalesce into one more run after it.
 * A task that throws is reported to `onError`; the next trigger runs it again.
 */
export function singleFlight(task: () => Promise<void>, onError: (err: unknown) => void): SingleFlight {
  let current: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    do {
      again = false;
      try {
        await task();
      } catch (err) {
        onError(err);
      }
    } while (again);
    // In the same tick as the last check of `again`: a trigger from now on starts a new run.
    current = undefined;
  };
  return {
    trigger(): void {
      if (current) {
        again = true;
        return;
      }
      current = loop();
    },
    async idle(): Promise<void> {
      while (current) await current;
    },
  };
}
