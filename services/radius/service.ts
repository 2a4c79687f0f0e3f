// The radius service: FreeRADIUS accounts for provisioned subscribers (docs/choreography.md, step 4).
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { lifecycleHandler } from "./handler.js";
import { radiusRoutes } from "./routes.js";
import * as schema from "./store/schema.js";

export const radiusMigrations = fileURLToPath(new URL("./migrations", import.meta.url));

export function definition(): ServiceDefinition<Record<string, never>> {
  return {
    name: "radius",
    tables: { schema: schema.schema, inbox: schema.inbox, outbox: schema.outbox },
    migrationsFolder: radiusMigrations,
    consumes: [topics.lifecycle],
    config: {},
    // The events radius reacts to. Each is folded into the subscriber's view (and its provisioning
    // progress); IpAllocated creates the account; any of them may let the rollback reach radius.
    handlers: (deps) => {
      const fold = lifecycleHandler(deps);
      return {
        SubscriberCreated: fold,
        NetworkProfileCreated: fold,
        NetworkProfileUpdated: fold,
        NetworkProfileSkipped: fold,
        NetworkProfileDeleted: fold,
        IpAllocated: fold,
        IpReleased: fold,
        RadiusAccountCreated: fold,
        RadiusAccountDeleted: fold,
        OnuActivated: fold,
        OnuDeactivated: fold,
        BillingServiceCreated: fold,
        BillingServiceCancelled: fold,
        SubscriberProvisioningFailed: fold,
        SubscriberProvisioned: fold,
        SubscriberPlanChangeRequested: fold,
      };
    },
    routes: (deps) => radiusRoutes(deps),
  };
}
