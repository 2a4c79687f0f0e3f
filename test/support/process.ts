// Runs an entry point as its own process, as a service runs in production: compiled, from
// dist/ (npm run build; the integration project's globalSetup builds when dist/ is stale).
// Test fixtures are not in the build: they run from their TypeScript through tsx.
import { spawn, type ChildProcess } from "node:child_process";
import { compiledEntry, repoRoot, serviceNodeArgs } from "../../scripts/run-services.js";
import { parentPidVariable } from "../../shared/parent.js";

/** Node arguments that run a source entry point: `services/ipam/main.ts` runs as dist/services/ipam/main.js. */
export function nodeArgs(entry: string): string[] {
  return entry.startsWith("test/") ? ["--import", "tsx", entry] : [...serviceNodeArgs(), compiledEntry(entry)];
}

export interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code or the signal that ended the process. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, nodeArgs(entry), {
    cwd: repoRoot,
    // The process stops by itself if the test run dies (shared/parent.ts).
    env: { ...process.env, ...env, [parentPidVariable]: String(process.pid) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

export async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
