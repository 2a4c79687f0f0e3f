// Helpers shared by the ipam integration tests: fresh tenants with pools, lifecycle events
// published onto the real topic, keyed by subscriber id.
import { randomUUID } from "node:crypto";
import type { Producer } from "kafkajs";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import { topics } from "../../shared/topics.js";
import { rememberSent } from "../support/consumed.js";
import { testCodec } from "../support/watch.js";
import { network as storyNetwork } from "../support/story.js";

export const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ inner_vlan: null, qinq_enabled: false, ...over });

export function event<K extends EventName>(tenantId: string, subscriberId: string, type: K, data: EventData<K>): Message<K> {
  return {
    type,
    meta: {
      event_id: randomUUID(),
      occurred_at: Date.now(),
      tenant_id: tenantId,
      subscriber_id: subscriberId,
      correlation_id: `order-${subscriberId}`,
      causation_id: null,
      producer: "test",
    },
    data,
  } as Message<K>;
}

export const profileSkipped = (tenantId: string, subscriberId: string, n: FiberNetworkConfig) =>
  event(tenantId, subscriberId, "NetworkProfileSkipped", { code: "consumption_disabled", reason: "profile consumption disabled", network: n });

export const profileCreated = (tenantId: string, subscriberId: string, n: FiberNetworkConfig) =>
  event(tenantId, subscriberId, "NetworkProfileCreated", { profile: { network_profile_id: randomUUID(), config: n, metadata: {} } });

export async function publish(producer: Producer, ...messages: Message[]): Promise<void> {
  const meta = await producer.send({
    topic: topics.lifecycle,
    messages: await Promise.all(
      messages.map(async (m) => ({
        key: m.meta.subscriber_id ?? m.meta.correlation_id,
        value: await testCodec.encode(topics.lifecycle, m),
        headers: { "event-type": m.type, "event-id": m.meta.event_id },
      })),
    ),
  });
  if (messages.length === 1 && messages[0]) rememberSent(messages[0], topics.lifecycle, meta);
}
