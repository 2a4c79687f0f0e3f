// The outbox relay after PostgreSQL ended the session that held its lock, as a PostgreSQL restart
// does (found by the fault test test/fault/outage-postgres.test.ts): it reserves a new session,
// takes the lock again and goes on publishing. Before, its reserved connection stayed closed for
// good (postgres.js does not reconnect one), so the relay never became active again and every
// event the service emitted afterwards stayed in its outbox.
import type { Message } from "../../schemas/generated/events.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadCatalog } from "../../schemas/catalog.js";
import { createCodec } from "../../shared/codec.js";
import { connect } from "../../shared/db.js";
import { runService, type RunningService } from "../../shared/service.js";
import { dlqTopic } from "../../shared/topics.js";
import { ledgerService } from "../fixtures/ledger/service.js";
import { runId, testEnv } from "../support/env.js";
import { collector, createTopics, header, testKafka } from "../support/kafka.js";

const run = runId();
const inTopic = `test.relay-session.${run}.in`;
const outTopic = `test.relay-session.${run}.out`;
const codec = createCodec(testEnv, loadCatalog());
const { sql } = connect(testEnv.DATABASE_URL, { max: 2 });
const producer = testKafka.producer();
let service: RunningService | undefined;

const ipAllocated = (eventId: string, subscriberId: string): Message<"IpAllocated"> => ({
  type: "IpAllocated",
  meta: { event_id: eventId, occurred_at: Date.now(), tenant_id: "tenant-a", subscriber_id: subscriberId, correlation_id: `order-${subscriberId}`, causation_id: null, producer: "test" },
  data: { ips: { ipv4: "100.64.0.9", ipv6: null, ipv6_prefix: null, source: "dynamic" } },
});

/** The backends of the ledger service that hold an advisory lock: the relay's lock session. */
const lockHolders = async (): Promise<number[]> =>
  (
    await sql<{ pid: number }[]>`
      select distinct l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and a.application_name = 'ledger'`
  ).map((r) => Number(r.pid));

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

it("takes its lock again on a new session after PostgreSQL ended the old one, and publishes what comes next", async () => {
  const out = await collector(outTopic, `test-relay-session-${run}`);
  const caused = (m: Message) => out.seen.filter((s) => header(s.message, "causation-id") === m.meta.event_id).length;
  const send = async (m: Message) => producer.send({ topic: inTopic, messages: [{ key: m.meta.subscriber_id ?? "", value: await codec.encode(inTopic, m) }] });

  const before = ipAllocated(`evt-${run}-before`, `sub-${run}`);
  await send(before);
  await expect.poll(() => caused(before), { timeout: 30_000 }).toBe(3);
  const [holder] = await lockHolders();
  expect(holder).toBeDefined();

  // PostgreSQL ends the lock's session, as a restart does for every session.
  await sql`select pg_terminate_backend(${holder ?? 0})`;
  // The relay notices (it checks its session every 5 s) and holds the lock again, on another session.
  await expect.poll(async () => (await lockHolders()).filter((pid) => pid !== holder).length, { timeout: 30_000, interval: 250 }).toBe(1);
  expect(service?.deps.relay.isActive()).toBe(true);

  const after = ipAllocated(`evt-${run}-after`, `sub-${run}`);
  await send(after);
  await expect.poll(() => caused(after), { timeout: 30_000 }).toBe(3);
  await out.stop();
}, 90_000);
