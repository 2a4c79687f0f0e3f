// The shared runtime on the real stack: Kafka, the registry and PostgreSQL.
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { eq } from "drizzle-orm";
import type { KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../schemas/catalog.js";
import type { Message } from "../../schemas/generated/events.js";
import { createCodec } from "../../shared/codec.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic } from "../../shared/topics.js";
import * as ledger from "../fixtures/ledger/schema.js";
import { ledgerService } from "../fixtures/ledger/service.js";
import { runId, testEnv } from "../support/env.js";
import { collector, createTopics, header, testKafka } from "../support/kafka.js";

const run = runId();
const inTopic = `test.runtime.${run}.in`;
const outTopic = `test.runtime.${run}.out`;
const catalog = loadCatalog();
const codec = createCodec(testEnv, catalog);
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
let service: RunningService;

const ipAllocated = (eventId: string, subscriberId: string): Message<"IpAllocated"> => ({
  type: "IpAllocated",
  meta: {
    event_id: eventId,
    occurred_at: Date.now(),
    tenant_id: "tenant-a",
    subscriber_id: subscriberId,
    correlation_id: `order-${subscriberId}`,
    causation_id: null,
    producer: "test",
  },
  data: { ips: { ipv4: "100.64.0.7", ipv6: null, ipv6_prefix: null, source: "dynamic" } },
});

async function send(topic: string, key: string, value: Buffer, headers: Record<string, string> = {}): Promise<void> {
  await producer.send({ topic, messages: [{ key, value, headers }] });
}

const effectsOf = async (eventId: string) => db.select().from(ledger.effects).where(eq(ledger.effects.eventId, eventId));

beforeAll(async () => {
  await createTopics([inTopic, outTopic]);
  await createTopics([dlqTopic("ledger")], 1).catch(() => undefined); // exists after the first run
  await producer.connect();
  service = await runService(ledgerService({ inTopic, outTopic }), { ...testEnv, KAFKA_GROUP_SUFFIX: `-${run}` });
});

afterAll(async () => {
  await service?.stop();
  await producer.disconnect();
  await sql.end();
});

describe("consumer runner and producer side", () => {
  it("publishes Avro events that a second consumer group decodes through the registry, key and headers intact", async () => {
    const out = await collector(outTopic, `test-reader-${run}-1`);
    const incoming = ipAllocated(`evt-${run}-1`, `sub-${run}-1`);
    await send(inTopic, `sub-${run}-1`, await codec.encode(inTopic, incoming), { traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01` });

    const seen = await out.waitFor(3);
    await out.stop();
    const decoded = await Promise.all(seen.map(async (s) => ({ raw: s.message, ...(await codec.decode(s.message.value)).message })));
    expect(decoded.map((d) => d.type)).toEqual(["RadiusAccountCreated", "RadiusAccountCreated", "RadiusAccountCreated"]);
    expect(decoded.map((d) => (d.data as { username: string }).username)).toEqual(["user-1", "user-2", "user-3"]);
    for (const d of decoded) {
      expect(d.raw.key?.toString()).toBe(`sub-${run}-1`);
      expect(header(d.raw, "event-type")).toBe("RadiusAccountCreated");
      expect(header(d.raw, "event-id")).toBe(d.meta.event_id);
      expect(header(d.raw, "correlation-id")).toBe(`order-sub-${run}-1`);
      expect(header(d.raw, "causation-id")).toBe(incoming.meta.event_id);
      expect(header(d.raw, "subscriber-id")).toBe(`sub-${run}-1`);
      // The trace of the incoming event continues.
      expect(header(d.raw, "traceparent")).toMatch(new RegExp(`^00-${"ab".repeat(16)}-[0-9a-f]{16}-01$`));
      expect(d.meta).toMatchObject({ tenant_id: "tenant-a", subscriber_id: `sub-${run}-1`, causation_id: incoming.meta.event_id, producer: "ledger" });
    }
  });

  it("sends garbage, an unknown record type, an unknown schema id and an oversized value to the DLQ with their reasons, and keeps consuming", async () => {
    const dlq = await collector(dlqTopic("ledger"), `test-dlq-${run}`);
    const registry = new SchemaRegistry({ host: testEnv.SCHEMA_REGISTRY_URL });
    const mystery = await registry.register(
      { type: "record", name: "Mystery", namespace: "fiber.test", fields: [{ name: "x", type: "string" }] },
      { subject: `${inTopic}-fiber.test.Mystery` },
    );
    const unknownId = Buffer.concat([Buffer.from([0, 0x3b, 0x9a, 0xc9, 0xff]), Buffer.from("payload")]);

    await send(inTopic, "poison", Buffer.from("this is not avro"));
    await send(inTopic, "poison", await registry.encode(mystery.id, { x: "?" }));
    await send(inTopic, "poison", unknownId);
    // 600 KB that start like Avro: refused by size (512 KB by default), never decoded.
    await send(inTopic, "poison", Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.alloc(600 * 1024, 0x41)]));
    const good = ipAllocated(`evt-${run}-after-poison`, `sub-${run}-2`);
    await send(inTopic, "poison", await codec.encode(inTopic, good)); // same key: same partition, after the poison

    const fromThisRun = () => dlq.seen.filter((s) => header(s.message, "dlq-origin-topic") === inTopic);
    await dlq.waitFor(0);
    await expect.poll(() => fromThisRun().length, { timeout: 30_000 }).toBe(4);
    await expect.poll(async () => (await effectsOf(good.meta.event_id)).length, { timeout: 30_000 }).toBe(1);
    await dlq.stop();

    const byCode: Record<string, KafkaMessage> = Object.fromEntries(fromThisRun().map((s) => [header(s.message, "dlq-code"), s.message]));
    expect(Object.keys(byCode).sort()).toEqual(["not-avro", "too-large", "unknown-record-type", "unknown-schema-id"]);
    expect(header(byCode["too-large"]!, "dlq-reason")).toContain(String(600 * 1024 + 5));
    expect(header(byCode["too-large"]!, "dlq-value-truncated-from")).toBe(String(600 * 1024 + 5));
    expect(byCode["too-large"]!.value?.length).toBe(512 * 1024);
    expect(header(byCode["unknown-record-type"]!, "dlq-reason")).toContain("fiber.test.Mystery");
    expect(header(byCode["unknown-schema-id"]!, "dlq-reason")).toContain(String(0x3b9ac9ff));
    for (const m of Object.values(byCode)) {
      expect(m.key?.toString()).toBe("poison");
      expect(header(m, "dlq-service")).toBe("ledger");
      expect(Number(header(m, "dlq-origin-partition"))).toBeGreaterThanOrEqual(0);
      expect(Number(header(m, "dlq-origin-offset"))).toBeGreaterThanOrEqual(0);
    }
    expect(byCode["not-avro"]!.value?.toString()).toBe("this is not avro"); // the original bytes, kept
  });

  it("applies an event delivered twice once (inbox) and publishes its outgoing events once", async () => {
    const out = await collector(outTopic, `test-reader-${run}-dup`);
    const incoming = ipAllocated(`evt-${run}-dup`, `sub-${run}-dup`);
    const value = await codec.encode(inTopic, incoming);
    await send(inTopic, `sub-${run}-dup`, value);
    await send(inTopic, `sub-${run}-dup`, value);
    const marker = ipAllocated(`evt-${run}-dup-marker`, `sub-${run}-dup`);
    await send(inTopic, `sub-${run}-dup`, await codec.encode(inTopic, marker)); // processed after both copies

    await expect.poll(async () => (await effectsOf(marker.meta.event_id)).length, { timeout: 30_000 }).toBe(1);
    expect(await effectsOf(incoming.meta.event_id)).toHaveLength(1);
    const inboxRows = await db.select().from(ledger.inbox).where(eq(ledger.inbox.eventId, incoming.meta.event_id));
    expect(inboxRows).toHaveLength(1);
    const caused = () =>
      out.seen.filter((s) => header(s.message, "causation-id") === incoming.meta.event_id).map((s) => header(s.message, "event-id"));
    await expect.poll(() => out.seen.filter((s) => header(s.message, "causation-id") === marker.meta.event_id).length, { timeout: 30_000 }).toBe(3);
    expect(caused()).toHaveLength(3);
    expect(new Set(caused()).size).toBe(3);
    await out.stop();
  });

  it("waits out a lost database connection however many attempts it takes: never dead-lettered, applied once, readyz degraded meanwhile", async () => {
    const dlq = await collector(dlqTopic("ledger"), `test-dlq-outage-${run}`);
    // Five cuts, more than HANDLER_MAX_ATTEMPTS (3 in tests): the old runner dead-lettered it.
    const incoming = ipAllocated(`evt-${run}-outage`, `outage-5-${run}`);
    const degraded: boolean[] = [];
    const watch = setInterval(() => {
      void fetch(`http://127.0.0.1:${service.health.port}/readyz`)
        .then(async (r) => degraded.push(r.status === 503 && ((await r.json()) as { checks: Record<string, boolean> }).checks.dependencies === false))
        .catch(() => undefined);
    }, 20);
    try {
      await send(inTopic, `outage-5-${run}`, await codec.encode(inTopic, incoming));
      await expect.poll(async () => (await effectsOf(incoming.meta.event_id)).length, { timeout: 60_000 }).toBe(1);
    } finally {
      clearInterval(watch);
    }
    expect(degraded).toContain(true);
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${service.health.port}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    await dlq.waitFor(0);
    expect(dlq.seen.filter((s) => s.message.key?.toString() === `outage-5-${run}`)).toHaveLength(0);
    await dlq.stop();
  });

  it("dead-letters a message whose handler keeps failing for an unknown reason after the bound, with the reason, and goes on with the next", async () => {
    const dlq = await collector(dlqTopic("ledger"), `test-dlq-bug-${run}`);
    const key = `bug-${run}`;
    const bad = ipAllocated(`evt-${run}-bug`, key);
    const after = ipAllocated(`evt-${run}-after-bug`, `fine-${run}`);
    await send(inTopic, key, await codec.encode(inTopic, bad));
    await send(inTopic, key, await codec.encode(inTopic, after)); // same partition, after it
    await expect.poll(() => dlq.seen.filter((s) => s.message.key?.toString() === key).length, { timeout: 60_000 }).toBe(1);
    const dead = dlq.seen.find((s) => s.message.key?.toString() === key);
    expect(header(dead!.message, "dlq-code")).toBe("retries-exhausted");
    expect(header(dead!.message, "dlq-reason")).toContain("reading 'ips'");
    expect(Number(header(dead!.message, "dlq-attempts"))).toBe(3);
    await expect.poll(async () => (await effectsOf(after.meta.event_id)).length, { timeout: 30_000 }).toBe(1);
    expect(await effectsOf(bad.meta.event_id)).toHaveLength(0);
    await dlq.stop();
  });
});
