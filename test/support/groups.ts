// Consumer groups seen from outside, as an operator sees them with kafka-consumer-groups: start a
// fresh group at the topics' current end, who is in a group and which partitions each member
// owns, what a group has committed, and the topics' high watermarks. One admin connection.
import { AssignerProtocol } from "kafkajs";
import { testKafka } from "./kafka.js";

export interface GroupSpec {
  readonly groupId: string;
  readonly topics: readonly string[];
}

export interface Member {
  readonly memberId: string;
  /** topic -> partitions this member owns. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

export interface GroupState {
  readonly state: string;
  readonly members: readonly Member[];
}

/** `${topic}:${partition}` -> offset. */
export type Offsets = Map<string, number>;

export const tp = (topic: string, partition: number): string => `${topic}:${partition}`;

export interface Groups {
  /**
   * Commits the current end of every topic of each group. For a group that has never had a
   * member this is where its first member starts, instead of the beginning of the history
   * (a shared stack's topics hold every earlier run).
   */
  startAtEnd(groups: readonly GroupSpec[]): Promise<void>;
  describe(groupIds: readonly string[]): Promise<Map<string, GroupState>>;
  /** The next offset the group reads, per partition of its topics (-1: nothing committed). */
  committed(group: GroupSpec): Promise<Offsets>;
  highWatermarks(topics: readonly string[]): Promise<Offsets>;
  close(): Promise<void>;
}

export async function groupAdmin(): Promise<Groups> {
  const admin = testKafka.admin();
  await admin.connect();
  const highWatermarks = async (topics: readonly string[]): Promise<Offsets> => {
    const out: Offsets = new Map();
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) out.set(tp(topic, p.partition), Number(p.high));
    return out;
  };
  return {
    async startAtEnd(groups) {
      const marks = await highWatermarks([...new Set(groups.flatMap((g) => g.topics))]);
      // As kafkajs's admin.setOffsets does, but one consumer per group for all its topics, and
      // the groups in parallel: each join costs the broker's initial rebalance delay.
      await Promise.all(
        groups.map(async (g) => {
          const consumer = testKafka.consumer({ groupId: g.groupId });
          await consumer.connect();
          try {
            for (const topic of g.topics) await consumer.subscribe({ topic, fromBeginning: true });
            const fetched = new Promise<void>((resolve) => consumer.on(consumer.events.FETCH, () => resolve()));
            await consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => undefined });
            consumer.pause(g.topics.map((topic) => ({ topic })));
            // With auto-commit on, a seek commits the offset.
            for (const [k, offset] of marks) {
              const [topic, partition] = [k.slice(0, k.lastIndexOf(":")), Number(k.slice(k.lastIndexOf(":") + 1))];
              if (g.topics.includes(topic)) consumer.seek({ topic, partition, offset: String(offset) });
            }
            await fetched;
          } finally {
            await consumer.disconnect();
          }
          for (const t of await admin.fetchOffsets({ groupId: g.groupId, topics: [...g.topics] })) {
            for (const p of t.partitions) {
              if (Number(p.offset) !== marks.get(tp(t.topic, p.partition))) throw new Error(`${g.groupId} starts at ${p.offset} on ${tp(t.topic, p.partition)}, not at the end (${marks.get(tp(t.topic, p.partition))})`);
            }
          }
        }),
      );
    },
    async describe(groupIds) {
      const { groups } = await admin.describeGroups([...groupIds]);
      return new Map(
        groups.map((g) => [
          g.groupId,
          {
            state: g.state,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              assignment: m.memberAssignment.length > 0 ? (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}) : {},
            })),
          },
        ]),
      );
    },
    async committed(group) {
      const out: Offsets = new Map();
      for (const t of await admin.fetchOffsets({ groupId: group.groupId, topics: [...group.topics] })) {
        for (const p of t.partitions) out.set(tp(t.topic, p.partition), Number(p.offset));
      }
      return out;
    },
    highWatermarks,
    close: () => admin.disconnect(),
  };
}
