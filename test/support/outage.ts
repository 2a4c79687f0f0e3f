// Outages of the shared local stack for the fault tests (test/fault): stop Kafka, the schema
// registry or PostgreSQL and bring it back, with the stack's own scripts (infra/kafka.sh,
// infra/registry.sh; PostgreSQL is the machine's cluster, pg_ctlcluster). Only for a test run
// holding the integration lock (test/support/one-run.ts): no other run uses the stack meanwhile.
//
// A component is never left down: stopping it first starts a guardian, a detached shell that
// brings it back if this test process dies before it does (a timeout, a kill); `restore()` starts
// it, stops the guardian, and waits until `bash infra/stack.sh status` says every component is
// healthy again.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { openSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/run-services.js";

export type Component = "kafka" | "registry" | "postgres";

/** The machine's PostgreSQL major version (its cluster is /etc/postgresql/<version>/main). */
const pgVersion = (): string => {
  const versions = readdirSync("/etc/postgresql").sort((a, b) => Number(a) - Number(b));
  const last = versions.at(-1);
  if (!last) throw new Error("no PostgreSQL cluster under /etc/postgresql");
  return last;
};

/** A function of infra/<file>.sh, run as infra/stack.sh runs it: under the stack's lock. */
const infra = (file: string, fn: string): string =>
  `set -euo pipefail; source infra/lib.sh; source infra/${file}.sh; ensure_dirs; ` +
  `exec 9>"$RUN_DIR/stack.lock"; flock -w 600 9; ${fn}`;

const pgReady = "for i in $(seq 1 120); do pg_isready -q -h \"${PGHOST:-127.0.0.1}\" -p \"${PGPORT:-5432}\" -t 2 && exit 0; sleep 0.5; done; exit 1";

const commands = (c: Component): { stop: string; start: string } => {
  switch (c) {
    case "kafka":
      return { stop: infra("kafka", "kafka_down"), start: infra("kafka", "kafka_up") };
    case "registry":
      return { stop: infra("registry", "registry_down"), start: infra("registry", "registry_up") };
    case "postgres": {
      const ctl = `pg_ctlcluster --skip-systemctl-redirect ${pgVersion()} main`;
      return { stop: `${ctl} stop`, start: `${ctl} status >/dev/null || ${ctl} start; ${pgReady}` };
    }
    default: {
      const never: never = c;
      throw new Error(`unknown component ${String(never)}`);
    }
  }
};

export interface ShellRun {
  readonly code: number;
  readonly out: string;
}

export function shell(script: string, timeoutMs = 300_000): Promise<ShellRun> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", script], { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

/** `bash infra/stack.sh status`: exit 0 only when Kafka, the registry, PostgreSQL and FreeRADIUS answer. */
export const stackStatus = (): Promise<ShellRun> => shell("bash infra/stack.sh status", 120_000);

/** Polls `infra/stack.sh status` until every component is healthy; throws with the last status after `timeoutMs`. */
export async function untilStackHealthy(timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stackStatus();
    if (s.code === 0) return s.out;
    if (Date.now() > deadline) throw new Error(`the stack is not healthy after ${timeoutMs} ms:\n${s.out}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

export interface Down {
  readonly component: Component;
  /** What the stop printed. */
  readonly stopOutput: string;
  /** Starts the component again (idempotent); resolves once the whole stack is healthy. */
  restore(): Promise<string>;
}

/**
 * A detached shell that starts `component` again once this process is gone, unless it is stopped
 * first (SIGTERM, by restore()). Its output goes to .stack/logs/fault-guardian.log.
 */
function guardian(component: Component): ChildProcess {
  const log = openSync(join(repoRoot, ".stack/logs/fault-guardian.log"), "a");
  const script =
    `trap 'exit 0' TERM; while kill -0 ${process.pid} 2>/dev/null; do sleep 1 & wait $!; done; ` +
    `echo "$(date -Is) test process ${process.pid} gone with ${component} down: starting it"; ${commands(component).start}`;
  const child = spawn("bash", ["-c", script], { cwd: repoRoot, detached: true, stdio: ["ignore", log, log] });
  child.unref();
  return child;
}

/** Stops `component` of the local stack; the returned handle brings it back. */
export async function stop(component: Component): Promise<Down> {
  const guard = guardian(component);
  const stopped = await shell(commands(component).stop, 120_000);
  let restored: Promise<string> | undefined;
  const down: Down = {
    component,
    stopOutput: stopped.out,
    restore() {
      restored ??= (async () => {
        const started = await shell(commands(component).start, 300_000);
        if (guard.exitCode === null && guard.signalCode === null && guard.pid) {
          const gone = new Promise((r) => guard.once("exit", r));
          guard.kill("SIGTERM");
          await gone;
        }
        if (started.code !== 0) throw new Error(`starting ${component} again failed (exit ${started.code}):\n${started.out}`);
        return untilStackHealthy(120_000);
      })();
      return restored;
    },
  };
  if (stopped.code !== 0) {
    await down.restore().catch(() => undefined);
    throw new Error(`stopping ${component} failed (exit ${stopped.code}):\n${stopped.out}`);
  }
  return down;
}
