// The profile service: network profiles from orders (or NetworkProfileSkipped, never blocking),
// dynamic IPs written back, soft delete on rollback and termination; HTTP read by tenant.
import { fileURLToPath } from "node:url";
import { configHelpers } from "../../shared/config.js";
import type { ServiceDefinition } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { profileReactor } from "./handler.js";
import { profileRoutes } from "./routes.js";
import { inbox, outbox, schema } from "./store/schema.js";

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

const config = {
  /** The seed's flag: false stores no profiles; every subscriber goes on from its order's network data. */
  ENABLE_NETWORK_PROFILE_CONSUMPTION: configHelpers.bool.default(true),
};

export function definition(): ServiceDefinition<typeof config> {
  return {
    name: "profile",
    tables: { schema, inbox, outbox },
    migrationsFolder,
    consumes: [topics.lifecycle],
    config,
    reactor: (deps) => profileReactor(deps, { enabled: deps.config.ENABLE_NETWORK_PROFILE_CONSUMPTION }),
    routes: (deps) => profileRoutes(deps.db),
  };
}
