// The ipam service: consumes the lifecycle topic, reacts to the events listed in handler.ts,
// and serves its pools read-only over HTTP (GET /tenants/:tenant/pools).
import { fileURLToPath } from "node:url";
import { tenantRoutes } from "../../shared/access/tenant-routes.js";
import type { ServiceDefinition } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { reactor } from "./handler.js";
import { listPools } from "./store/pools.js";
import * as store from "./store/schema.js";

export const ipamMigrations = fileURLToPath(new URL("./migrations", import.meta.url));

export function definition(): ServiceDefinition<Record<string, never>> {
  return {
    name: "ipam",
    tables: { schema: store.schema, inbox: store.inbox, outbox: store.outbox },
    migrationsFolder: ipamMigrations,
    consumes: [topics.lifecycle],
    config: {},
    reactor,
    // A tenant the caller's token does not cover answers 404, as an unknown path does.
    routes: (deps) =>
      tenantRoutes([{ method: "GET", path: /^\/pools$/, notFound: "not found", handle: async ({ tenant }) => ({ status: 200, body: { pools: await listPools(deps.db, tenant) } }) }]),
  };
}
