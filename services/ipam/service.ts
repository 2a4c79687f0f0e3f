// The ipam service: consumes the lifecycle topic, reacts to the events listed in handler.ts,
// and serves its pools read-only over HTTP (GET /tenants/:tenant/pools).
import { fileURLToPath } from "node:url";
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
    routes: (deps) => async (req, url) => {
      const m = /^\/tenants\/([^/]+)\/pools$/.exec(url.pathname);
      if (!m || req.method !== "GET") return undefined;
      return { status: 200, body: { pools: await listPools(deps.db, decodeURIComponent(m[1] ?? "")) } };
    },
  };
}
