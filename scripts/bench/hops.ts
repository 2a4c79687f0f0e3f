// Where an order's time goes, hop by hop, read back from the topics: for one tenant's
// provisionings, each lifecycle event's decision (meta.occurred_at, set by the service that
// decided) against the record's CreateTime (set when its relay published it), and the next
// event's decision against that. "X: decided -> published" is the rest of the unit of work, the
// commit and the relay; "X published -> Y decided" is the next service's fetch, its queue and
// its unit of work up to the decision. Prints p50 and p90 per step.
//   npx tsx scripts/bench/hops.ts <tenant> [--skip N]   (N: leave out the tenant's first N orders, e.g. a burst before a rate run)
import { Command } from "commander";
import { loadCatalog } from "../../schemas/catalog.js";
import { createCodec } from "../../shared/codec.js";
import { loadConfig } from "../../shared/config.js";
import { createKafka } from "../../shared/kafka.js";
import { createLogger } from "../../shared/logger.js";
import { topics } from "../../shared/topics.js";

const program = new Command().argument("<tenant>").option("--skip <n>", "leave out the tenant's first N orders", "0").parse();
const tenant = program.args[0] ?? "";
const skip = Number(program.opts<{ skip: string }>().skip);
const config = loadConfig({});
const kafka = createKafka(config, "hops", createLogger("hops", "error"));
const codec = createCodec(config, loadCatalog());

interface Seen {
  readonly type: string;
  readonly occurred: number;
  readonly created: number;
}
const byOrder = new Map<string, Seen[]>();
const consumer = kafka.consumer({ groupId: `hops-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topics: [topics.lifecycle, topics.crmOrders, topics.orderStatus], fromBeginning: true });
let last = Date.now();
await consumer.run({
  eachMessage: async ({ message }) => {
    last = Date.now();
    if (message.headers?.["tenant-id"]?.toString() !== tenant || !message.value) return;
    const { message: m } = await codec.decode(message.value);
    const list = byOrder.get(m.meta.correlation_id) ?? [];
    list.push({ type: m.type, occurred: Number(m.meta.occurred_at), created: Number(message.timestamp) });
    byOrder.set(m.meta.correlation_id, list);
  },
});
while (Date.now() - last < 8_000) await new Promise((r) => setTimeout(r, 1_000));
await consumer.disconnect();

const first = [...byOrder.entries()].map(([k, evs]) => [k, Math.min(...evs.map((e) => e.occurred))] as const).sort((a, b) => a[1] - b[1]);
for (const [k] of first.slice(0, skip)) byOrder.delete(k);
const steps = new Map<string, number[]>();
const add = (k: string, v: number) => steps.set(k, [...(steps.get(k) ?? []), v]);
for (const evs of byOrder.values()) {
  evs.sort((a, b) => a.occurred - b.occurred);
  evs.forEach((e, i) => {
    if (e.type !== "ProvisionOrderPlaced") add(`${e.type}: decided -> published`, e.created - e.occurred); // the CRM's occurred_at is its own
    const next = evs[i + 1];
    if (next) add(`${e.type} published -> ${next.type} decided`, next.occurred - e.created);
  });
}
const pct = (a: readonly number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(q * (a.length - 1))] ?? 0;
console.log(`${byOrder.size} orders of tenant ${tenant}`);
for (const [k, a] of steps) if (a.length >= byOrder.size / 10) console.log(`  ${k.padEnd(72)} n ${String(a.length).padStart(5)}  p50 ${String(pct(a, 0.5)).padStart(6)} ms  p90 ${String(pct(a, 0.9)).padStart(6)} ms`);
