// `npm run services` is stopped the way an operator stops it: SIGTERM to npm stops every service
// it started, and so does killing npm outright (the launcher notices it lost its parent; the
// services would notice the launcher gone the same way, test/unit/parent.test.ts).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { repoRoot, servicePorts } from "../../scripts/run-services.js";
import { testEnv } from "../support/env.js";
import { waitUntil } from "../support/kafka.js";

const port = servicePorts.olt;

const ready = async (): Promise<boolean> => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
};

/** Processes whose command line runs the compiled olt service. */
function oltProcesses(): number[] {
  return readdirSync("/proc").flatMap((d) => {
    if (!/^\d+$/.test(d)) return [];
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").includes("dist/services/olt/main.js") ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

describe("npm run services", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`stops its services when npm gets ${signal}`, async () => {
      expect(oltProcesses()).toEqual([]);
      const npm = spawn("npm", ["run", "--silent", "services", "--", "olt"], {
        cwd: repoRoot,
        env: { ...process.env, ...testEnv, LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      for (const s of [npm.stdout, npm.stderr]) s.on("data", (d: Buffer) => (out += d.toString()));
      await waitUntil(ready, 90_000, () => `olt /readyz; output: ${out.slice(-2000)}`);
      expect(oltProcesses()).toHaveLength(1);
      npm.kill(signal);
      await waitUntil(async () => oltProcesses().length === 0, 20_000, () => `the olt process to stop after npm got ${signal}; output: ${out.slice(-2000)}`);
      expect(await ready()).toBe(false);
    }, 150_000);
  }
});
