// The projection service: folds every lifecycle event into service_entities, serves the
// documents over HTTP and publishes each new version on service-metadata.v1 (compacted).
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { projectionReactor } from "./handler.js";
import { projectionRoutes } from "./routes.js";
import { inbox, outbox, schema } from "./store/schema.js";

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export function definition(): ServiceDefinition<Record<string, never>> {
  return {
    name: "projection",
    tables: { schema, inbox, outbox },
    migrationsFolder,
    consumes: [topics.lifecycle],
    config: {},
    reactor: (deps) => projectionReactor(deps),
    routes: (deps) => projectionRoutes(deps.db),
  };
}
