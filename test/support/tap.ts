// Taps several topics from "now" on (their high watermarks when the tap starts), keeping every
// record with its topic, partition, offset, headers and decoded event (null when it does not
// decode), and how far it has read each partition: a test can wait until the tap has seen
// everything up to given high watermarks, rather than sleeping and hoping.
import type { Message } from "../../schemas/generated/events.js";
import { headersToStrings } from "../../shared/kafka.js";
import { runId } from "./env.js";
import { tp, type Offsets } from "./groups.js";
import { testKafka } from "./kafka.js";
import { testCodec } from "./watch.js";

export interface Tapped {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly message: Message | null;
}

export interface Tap {
  readonly seen: Tapped[];
  /** True once every partition in `highs` has been read up to its offset. */
  reached(highs: Offsets): boolean;
  stop(): Promise<void>;
}

export async function tap(topics: readonly string[]): Promise<Tap> {
  const admin = testKafka.admin();
  await admin.connect();
  const marks = new Map<string, Array<{ partition: number; high: string }>>();
  for (const topic of topics) marks.set(topic, await admin.fetchTopicOffsets(topic));
  await admin.disconnect();
  const position: Offsets = new Map();
  for (const [topic, ms] of marks) for (const m of ms) position.set(tp(topic, m.partition), Number(m.high));
  const seen: Tapped[] = [];
  // A record read again (the tap's own group rebalanced before committing) is kept once: a
  // repeat here is then the producer's, at a new offset.
  const read = new Set<string>();
  const consumer = testKafka.consumer({ groupId: `tap-${runId()}`, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const at = `${tp(topic, partition)}@${message.offset}`;
      if (read.has(at)) return;
      read.add(at);
      let decoded: Message | null = null;
      try {
        decoded = (await testCodec.decode(message.value)).message;
      } catch {
        /* kept as null: a dead letter need not decode */
      }
      seen.push({ topic, partition, offset: Number(message.offset), headers: headersToStrings(message.headers), message: decoded });
      position.set(tp(topic, partition), Number(message.offset) + 1);
    },
  });
  for (const [topic, ms] of marks) for (const m of ms) consumer.seek({ topic, partition: m.partition, offset: m.high });
  return {
    seen,
    reached: (highs) => [...highs].every(([k, high]) => (position.get(k) ?? 0) >= high),
    stop: () => consumer.disconnect(),
  };
}
