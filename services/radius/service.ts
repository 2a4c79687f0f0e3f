// The radius service: FreeRADIUS accounts for provisioned subscribers (docs/choreography.md, step 4).
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { ServiceDefinition } from "../../shared/service.js";
import { startDispatcher } from "./dispatcher.js";
import { startFirstPasswordExpiry } from "./first-password-expiry.js";
import { topics } from "../../shared/topics.js";
import { radiusReactor } from "./handler.js";
import { radiusRoutes } from "./routes.js";
import * as schema from "./store/schema.js";

export const radiusMigrations = fileURLToPath(new URL("./migrations", import.meta.url));

const config = {
  COA_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  COA_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  COA_POLL_MS: z.coerce.number().int().positive().default(2000),
  /** Requests to one NAS claimed and not yet recorded, across dispatchers. */
  COA_WINDOW_PER_NAS: z.coerce.number().int().min(1).max(1024).default(32),
  /** Requests one process holds at once, over all NASes. */
  COA_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(256),
  /** How long a claim lasts before another dispatcher may take the request; default COA_ATTEMPTS × COA_TIMEOUT_MS + 15 s. */
  COA_LEASE_MS: z.coerce.number().int().positive().optional(),
  /** How long an account's first password is held in clear for its one retrieval (default 7 days). */
  FIRST_PASSWORD_TTL_MS: z.coerce.number().int().min(1_000).default(7 * 24 * 3_600_000),
};

export function definition(): ServiceDefinition<typeof config> {
  // The dispatcher runs in `background`; the handler wakes it right after a commit that queued a request.
  let dispatcher: ReturnType<typeof startDispatcher> | undefined;
  return {
    name: "radius",
    tables: { schema: schema.schema, inbox: schema.inbox, outbox: schema.outbox },
    migrationsFolder: radiusMigrations,
    consumes: [topics.lifecycle],
    config,
    reactor: (deps) => radiusReactor(deps, () => dispatcher?.wake()),
    background: (deps) => {
      const running = startDispatcher(deps, deps.config);
      dispatcher = running;
      const expiry = startFirstPasswordExpiry(deps, deps.config.FIRST_PASSWORD_TTL_MS);
      return {
        async stop() {
          await expiry.stop();
          await running.stop();
        },
      };
    },
    routes: (deps) => radiusRoutes(deps, deps.config.FIRST_PASSWORD_TTL_MS),
  };
}
