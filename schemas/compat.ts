// Schema evolution check: every event schema must stay FULL_TRANSITIVE compatible with every
// version of it committed to git. Backward: today's readers read every old event (audit
// replays from offset 0). Forward: yesterday's readers read today's events (services upgrade
// one at a time). avsc's resolver decides whether a reader schema can read a writer schema.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { loadCatalog, schemasDir, type Catalog } from "./catalog.js";

export interface Incompatibility {
  readonly subject: string;
  readonly against: string;
  readonly problem: string;
}

/** Problems that stop `newer` from replacing `older`, in both directions. */
export function incompatibilities(older: Catalog, newer: Catalog, against: string): Incompatibility[] {
  const problems: Incompatibility[] = [];
  for (const old of older.events) {
    const current = newer.events.find((e) => e.subject === old.subject);
    if (!current) {
      problems.push({ subject: old.subject, against, problem: "removed: its events stay in the topic history" });
      continue;
    }
    for (const [direction, reader, writer] of [
      ["backward (new reads old)", current.type, old.type],
      ["forward (old reads new)", old.type, current.type],
    ] as const) {
      try {
        reader.createResolver(writer);
      } catch (err) {
        problems.push({ subject: old.subject, against, problem: `${direction}: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }
  return problems;
}

const repoRoot = dirname(schemasDir);
const git = (...args: string[]): string => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 << 20 });

/** Every distinct committed version of the contract, oldest first, named by commit. */
export function committedCatalogs(): Array<{ commit: string; catalog: Catalog }> {
  let commits: string[];
  try {
    commits = git("log", "--reverse", "--format=%H", "--", "schemas/").split("\n").filter(Boolean);
  } catch {
    return []; // not a git checkout (e.g. an unpacked release): nothing to compare with
  }
  const blobs = new Map<string, string>();
  const seen = new Set<string>();
  const out: Array<{ commit: string; catalog: Catalog }> = [];
  for (const commit of commits) {
    const entries = git("ls-tree", "-r", commit, "--", "schemas/")
      .split("\n")
      .map((l) => /^\d+ blob ([0-9a-f]+)\t(schemas\/(.+\.avsc))$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ blob: m[1] ?? "", rel: m[3] ?? "" }));
    if (entries.length === 0) continue;
    const fingerprint = createHash("sha1").update(entries.map((e) => `${e.blob} ${e.rel}`).join("\n")).digest("hex");
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    const byRel = new Map(entries.map((e) => [e.rel, e.blob]));
    const source = (rel: string): string => {
      const blob = byRel.get(rel) ?? "";
      let text = blobs.get(blob);
      if (text === undefined) {
        text = git("cat-file", "blob", blob);
        blobs.set(blob, text);
      }
      return text;
    };
    const files = [...byRel.keys()].sort((a, b) => Number(!a.startsWith("common/")) - Number(!b.startsWith("common/")) || a.localeCompare(b));
    out.push({ commit: commit.slice(0, 12), catalog: loadCatalog(source, files) });
  }
  return out;
}

/** The current working tree against every committed version. */
export function checkAgainstHistory(current: Catalog = loadCatalog()): Incompatibility[] {
  return committedCatalogs().flatMap(({ commit, catalog }) => incompatibilities(catalog, current, commit));
}

if (process.argv[1]?.endsWith("compat.ts")) {
  const problems = checkAgainstHistory();
  for (const p of problems) console.error(`${p.subject} vs ${p.against}: ${p.problem}`);
  console.log(problems.length === 0 ? "schemas: FULL_TRANSITIVE compatible with every committed version" : `${problems.length} incompatibilities`);
  process.exit(problems.length === 0 ? 0 : 1);
}
