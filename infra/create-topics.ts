// Creates the topics of shared/topics.ts on the local Kafka (replication factor 1) and brings the
// configs of existing ones in line with the catalogue. Prints one line per topic.
// Run: npx tsx infra/create-topics.ts   (KAFKA_BROKERS, default 127.0.0.1:9092, and the other
// connection variables of the services: SASL, TLS)
import kafkajs from "kafkajs";
import type { Admin, ConfigEntries } from "kafkajs";
import { loadConfig } from "../shared/config.js";
import { createKafka } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import { topicSpecs } from "../shared/topics.js";
import type { TopicSpec } from "../shared/topics.js";

const { ConfigResourceTypes, ConfigSource } = kafkajs;

const config = loadConfig({});
const brokers = config.KAFKA_BROKERS;
const deadlineMs = Number(process.env["CREATE_TOPICS_TIMEOUT_MS"] ?? 60_000);

const describe = (configs: Readonly<Record<string, string>>): string =>
  Object.entries(configs)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

async function currentTopicConfigs(admin: Admin, topic: string): Promise<ConfigEntries[]> {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    includeSynonyms: false,
  });
  const resource = resources[0];
  if (!resource || resource.errorCode !== 0) {
    throw new Error(`describeConfigs ${topic}: ${resource?.errorMessage ?? "no answer"}`);
  }
  return resource.configEntries;
}

async function reconcile(admin: Admin, spec: TopicSpec, partitions: number): Promise<string> {
  const entries = await currentTopicConfigs(admin, spec.name);
  const actual = new Map(entries.map((e) => [e.configName, e.configValue]));
  const differing = Object.entries(spec.configs).filter(([k, v]) => actual.get(k) !== v);
  const notes: string[] = [];
  if (differing.length > 0) {
    // AlterConfigs replaces the topic's whole set of overrides: keep the other overrides it has.
    const merged = new Map(
      entries
        .filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG)
        .map((e) => [e.configName, e.configValue] as const),
    );
    for (const [k, v] of Object.entries(spec.configs)) merged.set(k, v);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: spec.name,
          configEntries: [...merged].map(([name, value]) => ({ name, value })),
        },
      ],
    });
    notes.push(`updated ${differing.map(([k, v]) => `${k}: ${actual.get(k) ?? "?"} -> ${v}`).join(", ")}`);
  }
  if (partitions !== spec.partitions) {
    // Not changed automatically: adding partitions remaps keys, and Kafka cannot remove any.
    notes.push(`WARNING has ${partitions} partitions, catalogue says ${spec.partitions} (left as is)`);
  }
  return notes.length > 0 ? notes.join("; ") : "ok";
}

// Kafka sets up the group coordinator (__consumer_offsets) and the producer-id manager on first
// use; do it here, quietly, so the first consumer group or idempotent producer of a test neither
// waits for it nor logs "coordinator is loading" errors.
async function warmUp(): Promise<void> {
  const quiet = createKafka(config, "create-topics-warmup", createLogger("create-topics", "silent"));
  const admin = quiet.admin();
  const producer = quiet.producer({ idempotent: true });
  await admin.connect();
  await producer.connect();
  try {
    await admin.describeGroups(["create-topics-warmup"]);
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const kafka = createKafka(config, "create-topics", createLogger("create-topics", "warn"), { connectionTimeout: 5_000, retry: { retries: 5 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topicSpecs.filter((s) => !existing.has(s.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: 1,
          configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const present = topicSpecs.filter((s) => existing.has(s.name)).map((s) => s.name);
    const metadata =
      present.length > 0 ? (await admin.fetchTopicMetadata({ topics: present })).topics : [];
    const partitionCount = new Map(metadata.map((t) => [t.name, t.partitions.length]));
    const width = Math.max(...topicSpecs.map((s) => s.name.length));
    for (const spec of topicSpecs) {
      const status = existing.has(spec.name)
        ? await reconcile(admin, spec, partitionCount.get(spec.name) ?? 0)
        : "created";
      console.log(
        `topic ${spec.name.padEnd(width)}  partitions=${spec.partitions}  ${describe(spec.configs)}  [${status}]`,
      );
    }
  } finally {
    await admin.disconnect();
  }
  await warmUp();
}

const timer = setTimeout(() => {
  console.error(`create-topics: gave up after ${deadlineMs} ms (brokers ${brokers.join(",")})`);
  process.exit(1);
}, deadlineMs);
timer.unref();

main().catch((err: unknown) => {
  console.error(`create-topics: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
