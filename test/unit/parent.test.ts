// A process a launcher started stops by itself when the launcher is killed outright
// (shared/parent.ts): real processes, no infrastructure.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { onParentGone } from "../../shared/parent.js";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("a launcher's children", () => {
  it("stop when the launcher is killed with SIGKILL", async () => {
    const launcher = spawn(process.execPath, ["--import", "tsx", "test/fixtures/parent/launcher.ts"], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the child did not start")), 20_000);
      launcher.stdout.on("data", (d: Buffer) => {
        const m = /child (\d+)/.exec(d.toString());
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    expect(alive(childPid)).toBe(true);
    launcher.kill("SIGKILL");
    const deadline = Date.now() + 5_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(childPid)).toBe(false);
  }, 30_000);

  it("watches nothing without FIBER_PARENT_PID, and stops at once when its parent is already another", () => {
    let stopped = 0;
    onParentGone(() => stopped++, {})();
    onParentGone(() => stopped++, { FIBER_PARENT_PID: "not a pid" })();
    expect(stopped).toBe(0);
    onParentGone(() => stopped++, { FIBER_PARENT_PID: String(process.ppid) })();
    expect(stopped).toBe(0);
    onParentGone(() => stopped++, { FIBER_PARENT_PID: String(process.ppid + 100_000) });
    expect(stopped).toBe(1);
  });
});
