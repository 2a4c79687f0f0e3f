// A stand-in for the upstream CRM: publishes orders to crm.orders.v1 and waits for their status
// on crm.order-status.v1. The order's fields are the seed's input_data keys.
//   npm run crm -- provision --tenant demo-isp --file order.json
//   npm run crm -- suspend|resume|terminate --tenant demo-isp --subscriber <id>
//   npm run crm -- modify --tenant demo-isp --subscriber <id> --plan home-1000
//   (order.json: {"order_id": "...", "crm_reference": "...", "first_name": "...", ...})
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command } from "commander";
import type { Producer } from "kafkajs";
import { loadCatalog } from "../schemas/catalog.js";
import type { EventData, Message } from "../schemas/generated/events.js";
import { createCodec, type Codec } from "../shared/codec.js";
import { configHelpers, loadConfig } from "../shared/config.js";
import { createKafka, createProducer, untilKafkaTakes } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import { eventHeaders } from "../shared/outbox.js";
import { topics } from "../shared/topics.js";

export type ProvisionOrder = Partial<EventData<"ProvisionOrderPlaced">> &
  Pick<EventData<"ProvisionOrderPlaced">, "order_id" | "crm_reference">;

const orderDefaults: Omit<EventData<"ProvisionOrderPlaced">, "order_id" | "crm_reference"> = {
  first_name: "",
  last_name: "",
  email: "",
  phone: null,
  service_address: "",
  connection_type: "ftth",
  service_plan_id: "",
  bandwidth_mbps: null,
  onu_serial: null,
  service_vlan: null,
  inner_vlan: null,
  qinq_enabled: null,
  vlan_pool: null,
  circuit_id: null,
  remote_id: null,
  option82_policy: null,
  static_ipv4: null,
  static_ipv6: null,
  delegated_ipv6_prefix: null,
  ipv6_pd_size: null,
  ipv6_assignment_mode: null,
  ipv4_pool: null,
  ipv6_pool: null,
  ipv6_pd_pool: null,
  vlan_id: null,
  ipv4_address: null,
  ipv6_address: null,
  metadata: {},
};

export function provisionOrder(tenantId: string, order: ProvisionOrder): Message<"ProvisionOrderPlaced"> {
  return {
    type: "ProvisionOrderPlaced",
    meta: {
      event_id: randomUUID(),
      occurred_at: Date.now(),
      tenant_id: tenantId,
      subscriber_id: null,
      correlation_id: order.order_id,
      causation_id: null,
      producer: "crm",
    },
    data: { ...orderDefaults, ...order },
  };
}

type LifecycleOrder = "SuspendOrderPlaced" | "ResumeOrderPlaced" | "ModifyOrderPlaced" | "TerminateOrderPlaced";

/** A suspend / resume / modify / terminate order for an existing subscriber. */
export function lifecycleOrder<K extends LifecycleOrder>(
  tenantId: string,
  type: K,
  data: EventData<K>,
): Message<K> {
  return {
    type,
    meta: {
      event_id: randomUUID(),
      occurred_at: Date.now(),
      tenant_id: tenantId,
      subscriber_id: data.subscriber_id,
      correlation_id: data.order_id,
      causation_id: null,
      producer: "crm",
    },
    data,
  } as Message<K>;
}

export interface Crm {
  place(message: Message): Promise<void>;
  readonly codec: Codec;
  readonly producer: Producer;
  close(): Promise<void>;
}

/** The CRM's own variable: how long connecting or placing one order may wait for Kafka. */
export const crmConfig = { CRM_KAFKA_DEADLINE_MS: configHelpers.int(1_000, 86_400_000).default(300_000) };

/**
 * The CRM's producer, made like a service's (createKafka: the configured SASL and TLS;
 * createProducer: idempotent, murmur2 keys). Connecting and each order ride through a broker
 * restart: they are tried again until Kafka answers, for at most CRM_KAFKA_DEADLINE_MS (5 min)
 * each, then fail with a line that says so. An order sent twice that way keeps its event id and
 * order id, and the subscriber service takes it once.
 */
export async function connectCrm(env = process.env): Promise<Crm> {
  const config = loadConfig(crmConfig, env);
  const logger = createLogger("crm", config.LOG_LEVEL);
  const kafka = createKafka(config, "crm", logger);
  const codec = createCodec(config, loadCatalog());
  const within = (what: string) => ({ deadline: Date.now() + config.CRM_KAFKA_DEADLINE_MS, logger, what });
  const producer = await untilKafkaTakes(() => createProducer(kafka), within(`connecting to ${config.KAFKA_BROKERS.join(",")}`));
  return {
    codec,
    producer,
    async place(message) {
      const key = message.type === "ProvisionOrderPlaced" ? message.data.crm_reference : (message.meta.subscriber_id ?? "");
      const value = await codec.encode(topics.crmOrders, message);
      await untilKafkaTakes(
        () => producer.send({ topic: topics.crmOrders, acks: -1, messages: [{ key, value, headers: eventHeaders(message) }] }),
        within(`placing ${message.type} ${message.meta.correlation_id}`),
      );
    },
    close: () => producer.disconnect(),
  };
}

interface LifecycleOptions {
  tenant: string;
  subscriber: string;
  order?: string;
  reason?: string;
  plan?: string;
  bandwidth?: string;
  effectiveDate?: string;
}

if (/\bcrm\.[jt]s$/.test(process.argv[1] ?? "")) {
  const program = new Command().name("crm").description("publish CRM orders to crm.orders.v1");
  program
    .command("provision")
    .requiredOption("--tenant <tenant>", "tenant id")
    .requiredOption("--file <file>", "JSON file with the order (the seed's input_data keys, plus order_id and crm_reference)")
    .action(async (opts: { tenant: string; file: string }) => {
      const order = JSON.parse(readFileSync(opts.file, "utf8")) as ProvisionOrder;
      const crm = await connectCrm();
      const message = provisionOrder(opts.tenant, order);
      await crm.place(message);
      await crm.close();
      console.log(`published ProvisionOrderPlaced ${order.order_id} (event ${message.meta.event_id})`);
    });
  const lifecycle = (name: string, describe: string, build: (o: LifecycleOptions) => Message) =>
    program
      .command(name)
      .description(describe)
      .requiredOption("--tenant <tenant>", "tenant id")
      .requiredOption("--subscriber <id>", "subscriber id (from OrderAccepted)")
      .option("--order <id>", "order id (default: a new one)")
      .option("--reason <text>", "reason (suspend, terminate)")
      .option("--plan <plan>", "new plan (modify)")
      .option("--bandwidth <mbps>", "new bandwidth in Mbit/s (modify)")
      .option("--effective-date <date>", "ISO date the change takes effect (modify)")
      .action(async (opts: LifecycleOptions) => {
        const crm = await connectCrm();
        const message = build({ ...opts, order: opts.order ?? `${name}-${randomUUID()}` });
        await crm.place(message);
        await crm.close();
        console.log(`published ${message.type} ${message.meta.correlation_id} (event ${message.meta.event_id})`);
      });
  lifecycle("suspend", "suspend a subscriber", (o) =>
    lifecycleOrder(o.tenant, "SuspendOrderPlaced", { order_id: o.order ?? "", subscriber_id: o.subscriber, reason: o.reason ?? null }),
  );
  lifecycle("resume", "resume a suspended subscriber", (o) =>
    lifecycleOrder(o.tenant, "ResumeOrderPlaced", { order_id: o.order ?? "", subscriber_id: o.subscriber }),
  );
  lifecycle("modify", "change plan and/or bandwidth", (o) =>
    lifecycleOrder(o.tenant, "ModifyOrderPlaced", {
      order_id: o.order ?? "",
      subscriber_id: o.subscriber,
      service_plan_id: o.plan ?? null,
      bandwidth_mbps: o.bandwidth ? Number(o.bandwidth) : null,
      effective_date: o.effectiveDate ?? null,
    }),
  );
  lifecycle("terminate", "terminate a subscriber", (o) =>
    lifecycleOrder(o.tenant, "TerminateOrderPlaced", { order_id: o.order ?? "", subscriber_id: o.subscriber, reason: o.reason ?? null }),
  );
  await program.parseAsync();
}
