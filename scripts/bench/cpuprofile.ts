// Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time by package / file and the
// top functions, so a profile can be read in a terminal and quoted in docs/PERFORMANCE.md.
//   npx tsx scripts/bench/cpuprofile.ts /tmp/prof/CPU.*.cpuprofile [--top 25]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topIdx = args.indexOf("--top");
const top = topIdx >= 0 ? Number(args[topIdx + 1]) : 25;
const files = args.filter((a, i) => a !== "--top" && (topIdx < 0 || i !== topIdx + 1));

const where = (url: string): string => {
  if (!url) return "(native/gc/idle)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] ?? url;
  if (url.startsWith("node:")) return url;
  const m = /\/work\/[^/]+\/(.*)$/.exec(url) ?? /file:\/\/(.*)$/.exec(url);
  return m?.[1] ?? url;
};

const byPlace = new Map<string, number>();
const byFn = new Map<string, number>();
let totalUs = 0;
for (const f of files) {
  const p = JSON.parse(readFileSync(f, "utf8")) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  for (let i = 0; i < p.samples.length; i++) {
    const n = nodes.get(p.samples[i] ?? -1);
    const dt = p.timeDeltas[i] ?? 0;
    if (!n) continue;
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") continue;
    totalUs += dt;
    const place = name === "(garbage collector)" ? "(gc)" : where(n.callFrame.url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + dt);
    const fn = `${name} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + dt);
  }
}
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (busy ${(totalUs / 1e6).toFixed(2)} s)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * v) / totalUs).toFixed(1).padStart(5)} %  ${(v / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
  }
};
print("self time by package / file", byPlace);
print("self time by function", byFn);
