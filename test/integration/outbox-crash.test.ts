// A process that dies between committing its unit of work and publishing it: the next process
// publishes the committed events exactly once, in order, and the redelivered input is a no-op.
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadCatalog } from "../../schemas/catalog.js";
import { createCodec } from "../../shared/codec.js";
import { connect } from "../../shared/db.js";
import * as ledger from "../fixtures/ledger/schema.js";
import { runId, testEnv } from "../support/env.js";
import { collector, createTopics, header, testKafka } from "../support/kafka.js";
import { startProcess, within } from "../support/process.js";

const run = runId();
const inTopic = `test.crash.${run}.in`;
const outTopic = `test.crash.${run}.out`;
const codec = createCodec(testEnv, loadCatalog());
const { sql, db } = connect(testEnv.DATABASE_URL);
const producer = testKafka.producer();
const env = { ...testEnv, LEDGER_IN_TOPIC: inTopic, LEDGER_OUT_TOPIC: outTopic, KAFKA_GROUP_SUFFIX: `-${run}` };

/** The next offset the group will read on the input topic, summed over partitions. */
async function committedOffset(groupId: string): Promise<number> {
  const admin = testKafka.admin();
  await admin.connect();
  try {
    const [topic] = await admin.fetchOffsets({ groupId, topics: [inTopic] });
    return (topic?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  await createTopics([inTopic, outTopic]);
  await producer.connect();
});
afterAll(async () => {
  await producer.disconnect();
  await sql.end();
});

it("publishes the outbox of a process killed after commit exactly once, in order, from the next process", async () => {
  const eventId = `evt-${run}-crash`;
  const first = startProcess("test/fixtures/ledger/main.ts", { ...env, LEDGER_CRASH_AFTER_COMMIT: "1" });
  const value = await codec.encode(inTopic, {
    type: "IpAllocated",
    meta: { event_id: eventId, occurred_at: Date.now(), tenant_id: "t", subscriber_id: `sub-${run}`, correlation_id: `o-${run}`, causation_id: null, producer: "test" },
    data: { ips: { ipv4: "100.64.9.9", ipv6: null, ipv6_prefix: null, source: "dynamic" } },
  });
  await producer.send({ topic: inTopic, messages: [{ key: `sub-${run}`, value }] });

  const ended = await within(first.exited, 60_000, () => `the first process to die\n${first.output()}`);
  expect(ended.signal).toBe("SIGKILL");
  // Committed: the effect and three outbox rows, none published.
  expect(await db.select().from(ledger.effects).where(eq(ledger.effects.eventId, eventId))).toHaveLength(1);
  const rows = await db.select().from(ledger.outbox).where(eq(ledger.outbox.key, `sub-${run}`));
  expect(rows).toHaveLength(3);
  expect(rows.every((r) => r.publishedAt === null)).toBe(true);

  const out = await collector(outTopic, `test-crash-reader-${run}`);
  const second = startProcess("test/fixtures/ledger/main.ts", env);
  try {
    await out.waitFor(3, 60_000);
    // The second process also gets the input again (the first never committed its offset):
    // the inbox makes it a no-op, so no second effect and no second set of events.
    await expect.poll(() => committedOffset(`ledger-${run}`), { timeout: 60_000, interval: 500 }).toBe(1);
    expect(await db.select().from(ledger.inbox).where(eq(ledger.inbox.eventId, eventId))).toHaveLength(1);
    const published = await db.select().from(ledger.outbox).where(inArray(ledger.outbox.eventId, rows.map((r) => r.eventId)));
    expect(published.every((r) => r.publishedAt !== null)).toBe(true);
  } finally {
    second.child.kill("SIGTERM");
  }
  const stopped = await within(second.exited, 60_000, () => `graceful stop\n${second.output()}`);
  expect(stopped.code).toBe(0);
  expect(await db.select().from(ledger.effects).where(eq(ledger.effects.eventId, eventId))).toHaveLength(1);
  await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would show up here
  await out.stop();
  const seen = out.seen.map((s) => ({ id: header(s.message, "event-id"), partition: s.partition, offset: Number(s.message.offset) }));
  expect(seen.map((s) => s.id)).toEqual(rows.map((r) => r.eventId)); // once each, in outbox order
});

it("publishes again what a relay had sent but not yet marked (it died between Kafka's ack and the mark): each event at most twice, with the same event id and bytes, and nothing else changes", async () => {
  const sub = `sub-${run}-unmarked`;
  const eventId = `evt-${run}-unmarked`;
  const out = await collector(outTopic, `test-unmarked-reader-${run}`);
  const first = startProcess("test/fixtures/ledger/main.ts", env);
  const value = await codec.encode(inTopic, {
    type: "IpAllocated",
    meta: { event_id: eventId, occurred_at: Date.now(), tenant_id: "t", subscriber_id: sub, correlation_id: `o-${run}-unmarked`, causation_id: null, producer: "test" },
    data: { ips: { ipv4: "100.64.9.10", ipv6: null, ipv6_prefix: null, source: "dynamic" } },
  });
  await producer.send({ topic: inTopic, messages: [{ key: sub, value }] });
  const rows = async () => db.select().from(ledger.outbox).where(eq(ledger.outbox.key, sub));
  await expect.poll(async () => (await rows()).filter((r) => r.publishedAt !== null).length, { timeout: 60_000, interval: 200 }).toBe(3);
  first.child.kill("SIGTERM");
  expect((await within(first.exited, 60_000, () => `graceful stop\n${first.output()}`)).code).toBe(0);

  // The state a relay leaves when it dies after Kafka acknowledged the batch and before the mark.
  await db.update(ledger.outbox).set({ publishedAt: null }).where(eq(ledger.outbox.key, sub));
  const second = startProcess("test/fixtures/ledger/main.ts", env);
  try {
    await out.waitFor(6, 60_000);
    await expect.poll(async () => (await rows()).every((r) => r.publishedAt !== null), { timeout: 60_000, interval: 200 }).toBe(true);
  } finally {
    second.child.kill("SIGTERM");
  }
  expect((await within(second.exited, 60_000, () => `graceful stop\n${second.output()}`)).code).toBe(0);
  await new Promise((r) => setTimeout(r, 1000)); // a third copy would show up here
  await out.stop();

  const ours = out.seen.filter((s) => s.message.key?.toString() === sub);
  const byId = new Map<string, Buffer[]>();
  for (const s of ours) byId.set(header(s.message, "event-id") ?? "", [...(byId.get(header(s.message, "event-id") ?? "") ?? []), s.message.value ?? Buffer.alloc(0)]);
  expect([...byId.keys()].sort()).toEqual((await rows()).map((r) => r.eventId).sort());
  for (const copies of byId.values()) {
    expect(copies).toHaveLength(2); // at most twice: once per relay that sent it
    expect(copies[0]?.equals(copies[1] ?? Buffer.alloc(0))).toBe(true); // byte for byte: a CRM deduping on event_id sees one
  }
  expect(await db.select().from(ledger.effects).where(eq(ledger.effects.eventId, eventId))).toHaveLength(1);
});
