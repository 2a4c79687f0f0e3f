// Runs the consistency checker as `npm run consistency -- --tenant T` does: the compiled CLI,
// against the test stack. Returns its exit code and everything it printed.
import { execFile } from "node:child_process";
import { compiledEntry, repoRoot, serviceNodeArgs } from "../../scripts/run-services.js";
import { testEnv } from "./env.js";

export interface CheckerRun {
  readonly code: number;
  readonly out: string;
}

export function runChecker(tenant: string, ...args: string[]): Promise<CheckerRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...serviceNodeArgs(), compiledEntry("scripts/consistency.ts"), "--tenant", tenant, ...args],
      { cwd: repoRoot, env: { ...process.env, ...testEnv }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

/**
 * Runs the checker until nothing is in flight any more (the projection and the profile's
 * write-back have caught up) and returns that run, breaches or not; the last run at the timeout.
 */
export async function settledCheck(tenant: string, timeoutMs: number): Promise<CheckerRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await runChecker(tenant);
    if ((run.code <= 1 && !run.out.includes("IN FLIGHT")) || Date.now() > deadline) return run;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
