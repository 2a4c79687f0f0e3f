// Runs every service as its own process against the local stack, each on a fixed HTTP port,
// with its log lines prefixed by its name. Ctrl-C (or SIGTERM) stops them gracefully.
// Services run compiled, `node dist/services/<name>/main.js` (npm run build), as in production.
//   npm run services                 all services, each its own process
//   npm run services -- ipam radius  some of them
//   npm run services -- --all-in-one every service in one process (scripts/all-in-one.ts)
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { onParentGone, parentPidVariable } from "../shared/parent.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository, whether this module runs compiled (dist/scripts/) or from source (scripts/, under vitest or tsx). */
export const repoRoot = basename(dirname(here)) === "dist" ? resolve(here, "../..") : resolve(here, "..");

/** The compiled form of a source entry point: `services/ipam/main.ts` -> `<repo>/dist/services/ipam/main.js`. */
export function compiledEntry(entry: string): string {
  const path = join(repoRoot, "dist", entry.replace(/\.ts$/, ".js"));
  if (!existsSync(path)) throw new Error(`${path} does not exist: run \`npm run build\` first`);
  return path;
}

/**
 * Node flags for a service process: stack traces mapped back to the .ts sources, a young
 * generation of 8 MB, a cap on the old generation (SERVICE_HEAP_MB: 512 MB for a service
 * process, 1024 for the all-in-one process, `off` for none), plus SERVICE_NODE_ARGS, extra flags
 * for every service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
export function serviceNodeArgs(env: Readonly<Record<string, string | undefined>> = process.env, allInOne = false): string[] {
  // An 8 MB young generation (Node 20 lets it grow to 16 MB): the same CPU and throughput in
  // `npm run bench`, 10-20 MB less peak RSS per service (docs/PERFORMANCE.md).
  const args = ["--enable-source-maps", "--max-semi-space-size=8"];
  // A cap, even a generous one, makes V8 grow the heap by a smaller factor before it collects:
  // with 512, peak RSS per service falls from 115-180 MB to about 105-120 MB, and the all-in-one
  // process's from about 320 to 190 with 1024, for a few per cent of throughput
  // (docs/PERFORMANCE.md). The heap never comes near the cap.
  const heap = env.SERVICE_HEAP_MB?.trim() || (allInOne ? "1024" : "512");
  if (heap !== "off") {
    if (!/^\d+$/.test(heap) || Number(heap) < 64) throw new Error(`SERVICE_HEAP_MB must be a whole number of MB, 64 or more, or off, not ${JSON.stringify(heap)}`);
    args.push(`--max-old-space-size=${heap}`);
  }
  return [...args, ...(env.SERVICE_NODE_ARGS ?? "").split(" ").filter(Boolean)];
}

export const servicePorts = {
  subscriber: 8101,
  profile: 8102,
  ipam: 8103,
  radius: 8104,
  olt: 8105,
  billing: 8106,
  projection: 8107,
} as const;

export type ServiceName = keyof typeof servicePorts;

export interface RunningProcesses {
  /** By service name, or "all-in-one" for the single process of that mode. */
  readonly children: Map<string, ChildProcess>;
  stop(): Promise<void>;
}

/**
 * Starts the services as separate processes, or (allInOne) every named service in one process;
 * in both modes each service has its own consumer group, schema and HTTP port (servicePorts).
 */
export function startServices(names: readonly ServiceName[], env: Record<string, string> = {}, quiet = false, allInOne = false): RunningProcesses {
  const children = new Map<string, ChildProcess>();
  // Every entry is checked before the first process starts, so a missing build starts none.
  const entries: ReadonlyArray<readonly [string, string, Record<string, string>]> = allInOne
    ? [["all-in-one", compiledEntry("scripts/all-in-one.ts"), { ALL_IN_ONE_SERVICES: names.join(",") }]]
    : names.map((name) => [name, compiledEntry(`services/${name}/main.ts`), { HTTP_PORT: String(servicePorts[name]) }] as const);
  for (const [name, entry, own] of entries) {
    const child = spawn(process.execPath, [...serviceNodeArgs(process.env, allInOne), entry], {
      cwd: repoRoot,
      // A child stops by itself when this launcher is gone (shared/parent.ts).
      env: { ...process.env, ...own, ...env, [parentPidVariable]: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        if (!quiet) process.stdout.write(`${name.padEnd(10)} | ${line}\n`);
      });
    }
    children.set(name, child);
  }
  return {
    children,
    async stop() {
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const program = new Command()
    .name("services")
    .description("run the services against the local stack")
    .argument("[names...]", `services to run (default: all of ${Object.keys(servicePorts).join(", ")})`)
    .option("--all-in-one", "every service in one Node process (each keeps its own consumer group, schema and port)")
    .parse();
  const asked = program.args as ServiceName[];
  const names = asked.length > 0 ? asked : (Object.keys(servicePorts) as ServiceName[]);
  const unknown = names.filter((n) => !(n in servicePorts));
  if (unknown.length > 0) {
    console.error(`unknown service(s): ${unknown.join(", ")}; known: ${Object.keys(servicePorts).join(", ")}`);
    process.exit(2);
  }
  const allInOne = program.opts<{ allInOne?: boolean }>().allInOne === true;
  const running = startServices(names, {}, false, allInOne);
  console.log(`started${allInOne ? " in one process" : ""}: ${names.map((n) => `${n} (http://127.0.0.1:${servicePorts[n]})`).join(", ")}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void running.stop().then(() => process.exit(0));
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, stop);
  // npm (or the shell) that started us killed outright: stop the services too. They also stop by
  // themselves if this process is killed outright.
  onParentGone(stop, { [parentPidVariable]: String(process.ppid) });
}
