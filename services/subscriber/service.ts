// The subscriber service: order intake and provisioning outcome.
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import type { BaseConfig } from "../../shared/config.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { topics } from "../../shared/topics.js";
import { subscriberConfig } from "./config.js";
import { reactor } from "./handler.js";
import { routes } from "./routes.js";
import * as store from "./store/schema.js";
import { startDeadlineSweep } from "./sweep.js";

export type SubscriberConfig = BaseConfig & z.infer<z.ZodObject<typeof subscriberConfig>>;
export type SubscriberDeps = ServiceDeps<SubscriberConfig>;

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export function definition(): ServiceDefinition<typeof subscriberConfig> {
  return {
    name: "subscriber",
    tables: { schema: store.schema, inbox: store.inbox, outbox: store.outbox },
    migrationsFolder,
    consumes: [topics.crmOrders, topics.lifecycle],
    config: subscriberConfig,
    reactor,
    routes,
    background: startDeadlineSweep,
  };
}
