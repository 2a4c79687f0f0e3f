// Lifecycle events for unit tests: the story of one subscriber, as given / when input.
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { evolveView, type SubscriberView } from "../../shared/subscriber-view.js";

export const tenant = "tenant-a";
export const subscriberId = "sub-1";
let seq = 0;

export function event<K extends EventName>(type: K, data: EventData<K>): Message<K> {
  seq += 1;
  return {
    type,
    meta: {
      event_id: `evt-${seq}`,
      occurred_at: 1_700_000_000_000 + seq,
      tenant_id: tenant,
      subscriber_id: subscriberId,
      correlation_id: "order-1",
      causation_id: null,
      producer: "test",
    },
    data,
  } as Message<K>;
}

export const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => ({
  service_vlan: 100,
  inner_vlan: 1000,
  qinq_enabled: true,
  vlan_pool: null,
  circuit_id: null,
  remote_id: null,
  option82_policy: "log",
  static_ipv4: null,
  static_ipv6: null,
  delegated_ipv6_prefix: null,
  ipv6_pd_size: null,
  ipv6_assignment_mode: "none",
  ipv4_pool: null,
  ipv6_pool: null,
  ipv6_pd_pool: null,
  ...over,
});

export const subscriberCreated = (over: Partial<EventData<"SubscriberCreated">> = {}) =>
  event("SubscriberCreated", {
    order_id: "order-1",
    subscriber_number: "SUB-000001",
    crm_reference: "crm-1",
    customer: { first_name: "Ada", last_name: "L", email: "ada@example.com", phone: null },
    service_address: "Main St 1",
    connection_type: "ftth",
    service_plan_id: "fiber-100",
    bandwidth_mbps: 100,
    onu_serial: "ALCL12345678",
    network: network(),
    metadata: {},
    ...over,
  });

export const radiusAccountCreated = () => event("RadiusAccountCreated", { username: "SUB-000001", plan_group: "fiber-100" });
export const onuActivated = () =>
  event("OnuActivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", olt_id: "olt-1", pon_port: "0/1/1", s_vlan: 100, c_vlan: 1000, bandwidth_mbps: 100 });
export const billingServiceCreated = () => event("BillingServiceCreated", { service_id: "bill-1", service_plan_id: "fiber-100", status: "active" });
export const billingServiceCancelled = () => event("BillingServiceCancelled", { service_id: "bill-1", reason: "rollback" });
export const provisioningFailed = (step = "billing") => event("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step, reason: "it broke" });

/** The view after `events`, in order. */
export function viewOf(events: readonly Message[]): SubscriberView {
  const view = events.reduce<SubscriberView | null>((v, m) => evolveView(v, m), null);
  if (!view) throw new Error("no SubscriberCreated among the given events");
  return view;
}

/** Ids and clock that a test can predict. */
export function testCtx(producer: string): EventContext {
  let n = 0;
  return { producer, now: () => 1_800_000_000_000, newId: () => `id-${++n}` };
}

export const onuActivationSkipped = () => event("OnuActivationSkipped", { connection_type: "wireless", reason: "connection type wireless has no ONU to activate" });
export const onuDeactivated = () => event("OnuDeactivated", { onu_id: "olt-1:0/1/1:1", onu_serial: "ALCL12345678", reason: "rollback" });
