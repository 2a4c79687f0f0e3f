// "The service has handled this event", observed from outside: its consumer group committed an
// offset past it. Offsets are committed only once what the event changed is durable (the
// service's deferred states, shared/reactor.ts), so this is the honest signal; an inbox row is
// written only for events that caused something.
import type { RecordMetadata } from "kafkajs";
import type { Message } from "../../schemas/generated/events.js";
import { testKafka } from "./kafka.js";

const sent = new Map<string, { topic: string; partition: number; offset: bigint }>();

/** Remembers where a message sent alone landed (producer.send's answer). */
export function rememberSent(m: Message, topic: string, meta: readonly RecordMetadata[]): void {
  const r = meta[0];
  if (meta.length === 1 && r?.baseOffset !== undefined) sent.set(m.meta.event_id, { topic, partition: r.partition, offset: BigInt(r.baseOffset) });
}

/** The group's committed offset on one partition of `topic` (-1 when none). */
export async function committedOffset(groupId: string, topic: string, partition: number): Promise<bigint> {
  const admin = testKafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return BigInt(offsets?.partitions.find((x) => x.partition === partition)?.offset ?? "-1");
  } finally {
    await admin.disconnect();
  }
}

/** True once `groupId` has committed past `m` (which must have been sent alone, see rememberSent). */
export async function committedPast(groupId: string, m: Message): Promise<boolean> {
  const at = sentAt(m);
  return (await committedOffset(groupId, at.topic, at.partition)) > at.offset;
}

/** Where a message sent alone landed. */
export function sentAt(m: Message): { topic: string; partition: number; offset: bigint } {
  const at = sent.get(m.meta.event_id);
  if (!at) throw new Error(`no record of where ${m.type} ${m.meta.event_id} was sent`);
  return at;
}
