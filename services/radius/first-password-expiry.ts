// A first password nobody retrieved is not kept in clear past FIRST_PASSWORD_TTL_MS: this sweep
// empties those rows (the route also refuses one past its time before the sweep comes by).
import type { Db } from "../../shared/db.js";
import type { Logger } from "../../shared/logger.js";
import { expireFirstPasswords } from "./store/store.js";

export function startFirstPasswordExpiry(deps: { readonly db: Db; readonly logger: Logger }, ttlMs: number): { stop(): Promise<void> } {
  const log = deps.logger.child({ component: "first-password-expiry" });
  let inFlight: Promise<void> | undefined;
  const sweep = () => {
    if (inFlight) return;
    // A failed pass (database down) changes nothing; the next tick tries again.
    inFlight = expireFirstPasswords(deps.db, ttlMs)
      .then(
        (n) => {
          if (n > 0) log.info({ expired: n, ttl_ms: ttlMs }, "first passwords never retrieved are not held any more");
        },
        (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, "first-password expiry failed, retrying at the next tick"),
      )
      .finally(() => (inFlight = undefined));
  };
  sweep();
  const timer = setInterval(sweep, Math.min(60_000, ttlMs));
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
