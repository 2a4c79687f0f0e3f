// The CoA dispatcher's scheduling rules: the windows, the lease, the single-flight runner, and the settings.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config.js";
import { leaseMarginMs, leaseMs, leaseTooShort, nasKey, pickClaims, singleFlight, type ClaimCandidate, type SingleFlight } from "./coa-window.js";
import { definition } from "./service.js";

const A = nasKey("t1", "nas-a");
const B = nasKey("t1", "nas-b");
const c = (id: string, nas: string, busy = 0): ClaimCandidate => ({ id, nasKey: nas, busy });

describe("pickClaims", () => {
  it("takes at most the window per NAS, oldest first", () => {
    const cands = [c("a1", A), c("a2", A), c("a3", A), c("a4", A)];
    expect(pickClaims(cands, 3, 100)).toEqual(["a1", "a2", "a3"]);
  });

  it("counts the NAS's live claims (any dispatcher's) against its window", () => {
    const cands = [c("a1", A, 2), c("a2", A, 2), c("b1", B, 0)];
    expect(pickClaims(cands, 3, 100)).toEqual(["a1", "b1"]);
    expect(pickClaims([c("a1", A, 3), c("a2", A, 3)], 3, 100)).toEqual([]);
    expect(pickClaims([c("a1", A, 5)], 3, 100)).toEqual([]);
  });

  it("a NAS with a full window does not hold back the others, whatever the age of its backlog", () => {
    const silent = Array.from({ length: 1000 }, (_, i) => c(`a${i}`, A, 0));
    const picked = pickClaims([...silent, c("b1", B), c("b2", B)], 32, 256);
    expect(picked.filter((id) => id.startsWith("a"))).toHaveLength(32);
    expect(picked.slice(-2)).toEqual(["b1", "b2"]);
  });

  it("takes at most the limit in all, oldest first across NASes", () => {
    const cands = [c("a1", A), c("b1", B), c("a2", A), c("b2", B), c("a3", A)];
    expect(pickClaims(cands, 10, 3)).toEqual(["a1", "b1", "a2"]);
    expect(pickClaims(cands, 10, 0)).toEqual([]);
  });

  it("keeps windows apart per tenant: the same NAS id in two tenants is two NASes", () => {
    const other = nasKey("t2", "nas-a");
    expect(pickClaims([c("x1", A), c("x2", A), c("y1", other), c("y2", other)], 1, 10)).toEqual(["x1", "y1"]);
  });
});

describe("lease", () => {
  it("defaults to every attempt's timeout plus a margin", () => {
    expect(leaseMs({ COA_ATTEMPTS: 3, COA_TIMEOUT_MS: 1000 })).toBe(3000 + leaseMarginMs);
    expect(leaseTooShort({ COA_ATTEMPTS: 3, COA_TIMEOUT_MS: 1000 })).toBe(false);
  });

  it("follows the setting, and says when a claim can run out while it is being sent", () => {
    expect(leaseMs({ COA_ATTEMPTS: 3, COA_TIMEOUT_MS: 1000, COA_LEASE_MS: 60_000 })).toBe(60_000);
    expect(leaseTooShort({ COA_ATTEMPTS: 3, COA_TIMEOUT_MS: 1000, COA_LEASE_MS: 3000 })).toBe(true);
  });
});

describe("singleFlight", () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it("runs one at a time and coalesces triggers during a run into one more run", async () => {
    const gates: Array<() => void> = [];
    let runs = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const f = singleFlight(async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      const d = deferred();
      gates.push(d.resolve);
      await d.promise;
      concurrent--;
    }, () => undefined);
    f.trigger();
    f.trigger();
    f.trigger();
    expect(runs).toBe(1);
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2); // the two triggers during the first run became one
    gates.shift()?.();
    await f.idle();
    expect(runs).toBe(2);
    expect(maxConcurrent).toBe(1);
  });

  it("never loses a trigger that arrives as a run ends", async () => {
    // A trigger some microtasks after the task's last await: whichever tick it lands in, a run starts after it.
    for (let depth = 0; depth < 12; depth++) {
      let clock = 0;
      let lastTrigger = -1;
      let lastStart = -1;
      let first = true;
      const f: SingleFlight = singleFlight(async () => {
        lastStart = ++clock;
        if (!first) return;
        first = false;
        let p = Promise.resolve();
        for (let i = 0; i < depth; i++) p = p.then(() => undefined);
        void p.then(() => {
          lastTrigger = ++clock;
          f.trigger();
        });
      }, () => undefined);
      f.trigger();
      for (let i = 0; i < 50; i++) await Promise.resolve();
      await f.idle();
      expect(lastTrigger, `depth ${depth}`).toBeGreaterThan(0);
      expect(lastStart, `depth ${depth}`).toBeGreaterThan(lastTrigger);
    }
  });

  it("reports a failing run and runs again at the next trigger", async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const f = singleFlight(async () => {
      runs++;
      if (runs === 1) throw new Error("boom");
    }, (err) => errors.push(err));
    f.trigger();
    await f.idle();
    expect(errors).toHaveLength(1);
    f.trigger();
    await f.idle();
    expect(runs).toBe(2);
    expect(errors).toHaveLength(1);
  });

  it("idle waits for the rerun asked for during a run", async () => {
    const d = deferred();
    let runs = 0;
    const f = singleFlight(async () => {
      runs++;
      if (runs === 1) await d.promise;
    }, () => undefined);
    f.trigger();
    const idle = f.idle();
    f.trigger();
    d.resolve();
    await idle;
    expect(runs).toBe(2);
  });
});

describe("radius CoA settings", () => {
  const config = definition().config;
  it("defaults: 32 per NAS, 256 in flight, lease derived", () => {
    const c = loadConfig(config, {});
    expect(c).toMatchObject({ COA_WINDOW_PER_NAS: 32, COA_MAX_IN_FLIGHT: 256, COA_TIMEOUT_MS: 1000, COA_ATTEMPTS: 3 });
    expect(c.COA_LEASE_MS).toBeUndefined();
    expect(leaseMs(c)).toBe(3000 + leaseMarginMs);
  });

  it("reads and validates them", () => {
    expect(loadConfig(config, { COA_WINDOW_PER_NAS: "8", COA_MAX_IN_FLIGHT: "64", COA_LEASE_MS: "60000" })).toMatchObject({ COA_WINDOW_PER_NAS: 8, COA_MAX_IN_FLIGHT: 64, COA_LEASE_MS: 60000 });
    expect(() => loadConfig(config, { COA_WINDOW_PER_NAS: "0" })).toThrow(/COA_WINDOW_PER_NAS/);
    expect(() => loadConfig(config, { COA_MAX_IN_FLIGHT: "lots" })).toThrow(/COA_MAX_IN_FLIGHT/);
    expect(() => loadConfig(config, { COA_LEASE_MS: "-1" })).toThrow(/COA_LEASE_MS/);
  });
});
