// Prints one subscriber's (or one order's) story from the topics, decoded, in order: what an
// operator would otherwise look up in Kafka UI.
//   npm run trace -- <subscriber_id | order_id> [--topic subscriber.lifecycle.v1 ...] [--json]
import { Command } from "commander";
import { loadCatalog } from "../schemas/catalog.js";
import type { Message } from "../schemas/generated/events.js";
import { createCodec } from "../shared/codec.js";
import { loadConfig } from "../shared/config.js";
import { createKafka } from "../shared/kafka.js";
import { createLogger } from "../shared/logger.js";
import { readHistory } from "../shared/history.js";
import { topics } from "../shared/topics.js";

export interface TraceLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly message: Message;
}

/** Reads the topics up to their current end and returns the messages about `id`, oldest first. */
export async function trace(id: string, topicNames: readonly string[], env = process.env): Promise<TraceLine[]> {
  const config = loadConfig({}, env);
  const kafka = createKafka(config, "trace", createLogger("trace", "silent"));
  const codec = createCodec(config, loadCatalog());
  const lines: TraceLine[] = [];
  await readHistory(kafka, topicNames, async ({ topic, partition, offset, key, value, headers: h }) => {
    if (![h["subscriber-id"], h["correlation-id"], key].includes(id)) return;
    try {
      lines.push({ topic, partition, offset: offset.toString(), message: (await codec.decode(value)).message });
    } catch {
      /* poison is the DLQ's business */
    }
  });
  return lines.sort((a, b) => a.message.meta.occurred_at - b.message.meta.occurred_at || Number(a.offset) - Number(b.offset));
}

/** One human line per event. */
export function describe(line: TraceLine): string {
  const { message: m } = line;
  const at = new Date(m.meta.occurred_at).toISOString().replace("T", " ").replace("Z", "");
  const data = JSON.stringify(m.data, (_k, v: unknown) => (v === null ? undefined : v));
  return `${at}  ${m.type.padEnd(34)} ${m.meta.producer.padEnd(11)} ${data.length > 150 ? `${data.slice(0, 147)}...` : data}`;
}

if (/\btrace\.[jt]s$/.test(process.argv[1] ?? "")) {
  const program = new Command()
    .name("trace")
    .argument("<id>", "subscriber id or order id")
    .option("--topic <topic...>", "topics to read", [topics.crmOrders, topics.lifecycle, topics.orderStatus])
    .option("--json", "one JSON object per event")
    .action(async (id: string, opts: { topic: string[]; json?: boolean }) => {
      const lines = await trace(id, opts.topic);
      if (lines.length === 0) console.log(`nothing about ${id} on ${opts.topic.join(", ")}`);
      for (const l of lines) console.log(opts.json ? JSON.stringify({ topic: l.topic, offset: l.offset, ...l.message }) : describe(l));
    });
  await program.parseAsync();
}
