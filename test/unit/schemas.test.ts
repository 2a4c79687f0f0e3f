// The contract: compatible with every committed version, generated types up to date, and the
// compatibility check itself catches a breaking change.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadCatalog, schemaFiles, schemasDir } from "../../schemas/catalog.js";
import { generate, generatedPath } from "../../schemas/codegen.js";
import { checkAgainstHistory, committedCatalogs, incompatibilities } from "../../schemas/compat.js";

type AvscRecord = { fields: Array<{ name: string; type: unknown; default?: unknown }> };

/** The current contract with one file edited. */
function variant(file: string, edit: (schema: AvscRecord) => void) {
  const source = (rel: string) => {
    const text = readFileSync(join(schemasDir, rel), "utf8");
    if (rel !== file) return text;
    const schema = JSON.parse(text) as AvscRecord;
    edit(schema);
    return JSON.stringify(schema);
  };
  return loadCatalog(source, schemaFiles());
}

const current = loadCatalog();
const ipAllocated = "subscriber.lifecycle.v1/IpAllocated.avsc";

describe("schema compatibility (FULL_TRANSITIVE against every committed version)", () => {
  it("the working tree is compatible with every version of the contract in git", () => {
    expect(committedCatalogs().length).toBeGreaterThan(0);
    expect(checkAgainstHistory(current)).toEqual([]);
  });

  it("catches a new field without a default (today's reader cannot read old events)", () => {
    const broken = variant(ipAllocated, (s) => s.fields.push({ name: "pool_id", type: "string" }));
    const problems = incompatibilities(current, broken, "HEAD");
    expect(problems.map((p) => p.subject)).toEqual(["subscriber.lifecycle.v1-fiber.lifecycle.IpAllocated"]);
    expect(problems[0]?.problem).toMatch(/^backward/);
  });

  it("catches a field whose type changes", () => {
    const broken = variant("subscriber.lifecycle.v1/OnuActivated.avsc", (s) => {
      const f = s.fields.find((x) => x.name === "bandwidth_mbps");
      if (f) f.type = "string";
    });
    expect(incompatibilities(current, broken, "HEAD").map((p) => p.problem.split(" ")[0])).toEqual(["backward", "forward"]);
  });

  it("catches a removed field that old readers need (no default)", () => {
    const broken = variant("subscriber.lifecycle.v1/SubscriberProvisioned.avsc", (s) => {
      s.fields = s.fields.filter((x) => x.name !== "order_id");
    });
    const problems = incompatibilities(current, broken, "HEAD");
    expect(problems).toHaveLength(1);
    expect(problems[0]?.problem).toMatch(/^forward/);
  });

  it("catches a removed event type", () => {
    const files = schemaFiles().filter((f) => f !== ipAllocated);
    const smaller = loadCatalog(undefined, files);
    expect(incompatibilities(current, smaller, "HEAD").map((p) => p.problem)).toEqual([
      "removed: its events stay in the topic history",
    ]);
  });

  it("accepts an optional field added with a default", () => {
    const evolved = variant(ipAllocated, (s) => s.fields.push({ name: "pool_id", type: ["null", "string"], default: null }));
    expect(incompatibilities(current, evolved, "HEAD")).toEqual([]);
  });
});

describe("generated TypeScript types", () => {
  it("are up to date with the .avsc files (run `npm run codegen`)", () => {
    expect(readFileSync(generatedPath, "utf8")).toBe(generate());
  });
});

describe("the catalogue", () => {
  it("names every subject <topic>-<record full name> and carries the common meta", () => {
    for (const e of current.events) {
      expect(e.subject).toBe(`${e.topic}-${e.fullName}`);
      expect((e.schema as unknown as AvscRecord).fields[0]?.name).toBe("meta");
    }
  });

  it("carries no secret in any event", () => {
    const text = JSON.stringify(current.events.map((e) => e.schema)).toLowerCase();
    expect(text).not.toMatch(/"name":"[a-z_]*(password|secret)[a-z_]*"/);
  });
});
