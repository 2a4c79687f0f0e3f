// The topic catalogue: one place for names, partition counts and configs.
// infra/create-topics.ts creates exactly these; services import the names from here.

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
}

// Lifecycle history is kept for audit replay: no time- or size-based deletion.
const keepForever = { "retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete" } as const;

export const topics = {
  crmOrders: "crm.orders.v1",
  lifecycle: "subscriber.lifecycle.v1",
  orderStatus: "crm.order-status.v1",
  serviceMetadata: "service-metadata.v1",
} as const;

export const serviceNames = [
  "subscriber",
  "profile",
  "ipam",
  "radius",
  "olt",
  "billing",
  "projection",
] as const;
export type ServiceName = (typeof serviceNames)[number];

export const dlqTopic = (service: string): string => `${service}.dlq.v1`;

export const topicSpecs: readonly TopicSpec[] = [
  { name: topics.crmOrders, partitions: 6, configs: keepForever },
  { name: topics.lifecycle, partitions: 6, configs: keepForever },
  { name: topics.orderStatus, partitions: 6, configs: keepForever },
  {
    name: topics.serviceMetadata,
    partitions: 6,
    configs: { "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000" },
  },
  ...serviceNames.map((s) => ({ name: dlqTopic(s), partitions: 1, configs: keepForever })),
];
