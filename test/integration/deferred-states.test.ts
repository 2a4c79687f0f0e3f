// Deferred states (shared/reactor.ts) survive a crash. The olt service runs as its own process
// with states held for a minute: what it folded from events that caused nothing lives in memory
// only, so its group's offset must stop at the first such event, even while it goes on acting
// on later events of the same partition. Killed with SIGKILL and started again, it gets those
// events again from Kafka, folds them again and acts on them as if it had never died, and
// repeats no effect it had made durable.
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { addOlt, discoverOnu, flowOf } from "../../services/olt/store/simulated-olt.js";
import { servicePorts } from "../../scripts/run-services.js";
import { committedOffset, committedPast, sentAt } from "../support/consumed.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka, waitUntil } from "../support/kafka.js";
import { startProcess, type Proc } from "../support/process.js";
import { watch, type Watch } from "../support/watch.js";
import { disconnectProducer, freshIds, network, produce, radiusAccountCreated, subscriberCreated, type Ids } from "./olt-billing.fixture.js";

const tenant = `t-${runId()}`;
// A consumer group of its own, starting at the topic's end: lag that other runs left in the
// shared "olt" group (events whose folds would be held too) can not move the offsets watched here.
const suffix = `-deferred-${runId()}`;
const group = `olt${suffix}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
const port = String(servicePorts.olt);
let lifecycleWatch: Watch;
let olt: Proc | undefined;

async function startOlt(env: Record<string, string>): Promise<Proc> {
  const p = startProcess("services/olt/main.ts", { ...testEnv, HTTP_PORT: port, KAFKA_GROUP_SUFFIX: suffix, ...env });
  await waitUntil(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    60_000,
    () => `olt /readyz; output: ${p.output().slice(-2000)}`,
  );
  return p;
}

/** The partition kafkajs's default partitioner gives `key` on the lifecycle topic. */
async function partitionOf(key: string): Promise<number> {
  const admin = testKafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topics.lifecycle] });
  await admin.disconnect();
  const partitionMetadata = (meta.topics[0]?.partitions ?? []) as PartitionMetadata[];
  return Partitioners.DefaultPartitioner()({ topic: topics.lifecycle, partitionMetadata, message: { key, value: null } });
}

beforeAll(async () => {
  const admin = testKafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topics.lifecycle);
  await admin.setOffsets({ groupId: group, topic: topics.lifecycle, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
  await admin.disconnect();
  lifecycleWatch = await watch(topics.lifecycle);
  await addOlt(db, tenant, "olt-1", "OLT 1");
});

afterAll(async () => {
  olt?.child.kill("SIGKILL");
  await lifecycleWatch?.stop();
  await disconnectProducer();
  await sql.end();
});

describe("deferred states", () => {
  it("keep the offset behind what is held in memory, and after a SIGKILL are folded again from Kafka", async () => {
    olt = await startOlt({ STATE_FLUSH_MS: "60000", STATE_MAX_DEFERRED: "100000" });
    const a = freshIds(tenant);
    // b: another subscriber on a's partition, whose events come after a's SubscriberCreated.
    let b: Ids = freshIds(tenant);
    const partition = await partitionOf(a.subscriber);
    while ((await partitionOf(b.subscriber)) !== partition) b = freshIds(tenant);
    for (const ids of [a, b]) await discoverOnu(db, tenant, "olt-1", "0/2/1", ids.serial);

    const aCreated = subscriberCreated(a, { network: network({ service_vlan: 210, inner_vlan: 2101, qinq_enabled: true }) });
    await produce(aCreated);
    // b goes all the way: olt acts on b's RadiusAccountCreated, after a's SubscriberCreated in the partition.
    await produce(subscriberCreated(b, { network: network({ service_vlan: 210, inner_vlan: 2102, qinq_enabled: true }) }), radiusAccountCreated(b));
    await lifecycleWatch.waitForType(b.subscriber, "OnuActivated");

    // Everything before a's SubscriberCreated is durable and committed; a's fold is held, so the
    // offset stops exactly there, although olt has handled later events of the partition.
    const at = sentAt(aCreated).offset;
    await waitUntil(async () => (await committedOffset(group, topics.lifecycle, partition)) === at, 30_000, () => `olt's offset on partition ${partition} to stand at ${at}`);
    await new Promise((r) => setTimeout(r, 2_500)); // two more commit rounds: it must not move on
    expect(await committedOffset(group, topics.lifecycle, partition)).toBe(at);
    expect(await committedPast(group, aCreated)).toBe(false);

    // A crash: nothing held is written. The next process reads a's SubscriberCreated again.
    olt.child.kill("SIGKILL");
    await olt.exited;
    olt = await startOlt({});
    await produce(radiusAccountCreated(a));
    const activated = await lifecycleWatch.waitForType(a.subscriber, "OnuActivated");
    expect(activated.data).toMatchObject({ onu_serial: a.serial, s_vlan: 210, c_vlan: 2101 });
    expect(await flowOf(db, tenant, a.serial)).toMatchObject({ sVlan: 210, cVlan: 2101 });

    // b's activation was durable (its state, inbox row and outbox in one transaction): redelivered, it is not repeated.
    await waitUntil(() => committedPast(group, aCreated), 30_000, () => "olt to commit past a's SubscriberCreated");
    expect(lifecycleWatch.about(b.subscriber).filter((m) => m.type === "OnuActivated")).toHaveLength(1);
    olt.child.kill("SIGTERM");
    await olt.exited;
    olt = undefined;
  });
});
