// How soon a service killed with SIGKILL consumes again once it is started again: starts one
// service (its normal consumer group), waits until /readyz answers 200 (its consumer joined the
// group and holds its partitions), kills it with SIGKILL, starts it again at once and measures
// the time from that start to /readyz 200, several rounds. It listens on a free port of its own;
// run it with that service stopped elsewhere and no integration run going (another member of its
// group would share the partitions and the measurement).
//   npm run bench:rejoin -- [--service olt] [--rounds 3] [--session-ms 30000] [--dynamic]
// --dynamic turns static membership off (KAFKA_STATIC_MEMBERSHIP=false): the dead member then
// keeps its partitions until its session times out.
import { createServer } from "node:net";
import { Command } from "commander";
import { servicePorts, startServices, type ServiceName } from "../run-services.js";

const opts = new Command()
  .name("bench:rejoin")
  .option("--service <name>", "the service to kill and start again", "olt")
  .option("--rounds <n>", "kills", "3")
  .option("--session-ms <ms>", "KAFKA_SESSION_TIMEOUT_MS of the service", "30000")
  .option("--dynamic", "without static membership (KAFKA_STATIC_MEMBERSHIP=false)")
  .parse()
  .opts<{ service: string; rounds: string; sessionMs: string; dynamic?: boolean }>();

const name = opts.service as ServiceName;
if (!(name in servicePorts)) throw new Error(`unknown service ${opts.service}; known: ${Object.keys(servicePorts).join(", ")}`);
const port = await new Promise<number>((resolve, reject) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const address = server.address();
    server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
  });
});
const env = {
  HTTP_PORT: String(port),
  KAFKA_SESSION_TIMEOUT_MS: opts.sessionMs,
  KAFKA_STATIC_MEMBERSHIP: opts.dynamic ? "false" : "true",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready after 10 minutes`);
    await sleep(20);
  }
}

const membership = opts.dynamic ? "dynamic membership" : "static membership";
console.log(`${name}, ${membership}, session timeout ${opts.sessionMs} ms`);
let running = startServices([name], env, true);
await ready();
const results: number[] = [];
try {
  for (let round = 1; round <= Number(opts.rounds); round++) {
    await sleep(5_000); // a few heartbeats, as a process that has been running a while
    const child = running.children.get(name);
    const gone = new Promise((r) => child?.once("exit", r));
    child?.kill("SIGKILL");
    await gone;
    const startedAt = Date.now();
    running = startServices([name], env, true);
    await ready();
    const ms = Date.now() - startedAt;
    results.push(ms);
    console.log(`round ${round}: started again -> consuming (readyz 200) in ${ms} ms`);
  }
} finally {
  await running.stop();
}
const sorted = [...results].sort((a, b) => a - b);
console.log(`${membership}: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${results.length} kills`);
