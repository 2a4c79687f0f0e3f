// Lifecycle events for the olt and billing integration tests: the test plays the services
// around them (subscriber, profile, radius), producing their facts onto the real topic.
import { randomUUID } from "node:crypto";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { topics } from "../../shared/topics.js";
import { runId } from "../support/env.js";
import { rememberSent } from "../support/consumed.js";
import { testKafka, waitUntil } from "../support/kafka.js";
import { testCodec } from "../support/watch.js";
import { network as storyNetwork } from "../support/story.js";

export interface Ids {
  readonly tenant: string;
  readonly subscriber: string;
  readonly order: string;
  readonly serial: string;
}

export const freshIds = (tenant: string): Ids => {
  const r = runId();
  return { tenant, subscriber: `sub-${r}`, order: `order-${r}`, serial: `ALCL${r.slice(-8).toUpperCase()}` };
};

export function lifecycle<K extends EventName>(ids: Ids, type: K, data: EventData<K>, producer = "test"): Message<K> {
  return {
    type,
    meta: {
      event_id: randomUUID(),
      occurred_at: Date.now(),
      tenant_id: ids.tenant,
      subscriber_id: ids.subscriber,
      correlation_id: ids.order,
      causation_id: null,
      producer,
    },
    data,
  } as Message<K>;
}

export const network = storyNetwork;

/** Each subscriber its own C-VLAN under S-VLAN 100: an OLT carries a QinQ pair for one subscriber only. */
let cVlan = 1000;
const nextCVlan = (): number => (cVlan = cVlan >= 4094 ? 1000 : cVlan + 1);

export const subscriberCreated = (ids: Ids, over: Partial<EventData<"SubscriberCreated">> = {}) =>
  lifecycle(
    ids,
    "SubscriberCreated",
    {
      order_id: ids.order,
      subscriber_number: `SUB-${ids.subscriber}`,
      crm_reference: `crm-${ids.subscriber}`,
      customer: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: null },
      service_address: "Main St 1",
      connection_type: "ftth",
      service_plan_id: "fiber-250",
      bandwidth_mbps: 250,
      onu_serial: ids.serial,
      network: network({ inner_vlan: nextCVlan() }),
      metadata: {},
      ...over,
    },
    "subscriber",
  );

export const radiusAccountCreated = (ids: Ids) =>
  lifecycle(ids, "RadiusAccountCreated", { username: `SUB-${ids.subscriber}`, plan_group: "fiber-250" }, "radius");

export const provisioningFailed = (ids: Ids, step: string) =>
  lifecycle(ids, "SubscriberProvisioningFailed", { code: null, order_id: ids.order, step, reason: `${step} failed (test)` }, "subscriber");

const producer = testKafka.producer({ idempotent: true });
let connected: Promise<void> | undefined;

/** Produces onto the lifecycle topic, keyed by subscriber: one partition, in this order. */
export async function produce(...messages: Message[]): Promise<void> {
  connected ??= producer.connect();
  await connected;
  for (const m of messages) {
    const meta = await producer.send({
      topic: topics.lifecycle,
      acks: -1,
      messages: [{ key: m.meta.subscriber_id ?? "", value: await testCodec.encode(topics.lifecycle, m), headers: { "event-type": m.type } }],
    });
    rememberSent(m, topics.lifecycle, meta);
  }
}

export async function disconnectProducer(): Promise<void> {
  if (connected) await producer.disconnect();
}

/** Waits until `check` holds (e.g. committedPast: the service has handled an event). */
export const eventually = (check: () => Promise<boolean>, what: string, timeoutMs = 60_000) => waitUntil(check, timeoutMs, () => what);
