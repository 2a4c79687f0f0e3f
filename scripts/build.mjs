// npm run build: compiles what runs (tsconfig.build.json: services, shared, schemas, scripts,
// infra; not the tests) to dist/, mirroring the source tree, with source maps; then copies the
// files the code reads beside its own module (import.meta.url): each service's drizzle
// migrations, shared/access's, and the Avro contract (schemas/**/*.avsc), and removes compiled
// files whose source is gone. tsc is incremental (dist/.tsbuildinfo), so a rebuild compiles only what changed.
//   node scripts/build.mjs             always runs tsc (a no-op run takes about 2 s)
//   node scripts/build.mjs --if-stale  returns at once when no source is newer than the last build
// Plain JavaScript, so it runs on a bare `node` before anything is compiled.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const dist = join(root, "dist");
const stamp = join(dist, ".build-stamp");
const sourceDirs = ["services", "shared", "schemas", "scripts", "infra"];
const configFiles = ["tsconfig.json", "tsconfig.build.json", "scripts/build.mjs"];

/** Every file and directory below `dir` (a directory's mtime changes when an entry is added, removed or renamed). */
function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    yield path;
    if (entry.isDirectory()) yield* walk(path);
  }
}

function stale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const inputs = [...configFiles.map((f) => join(root, f)), ...sourceDirs.flatMap((d) => [join(root, d), ...walk(join(root, d))])];
  return inputs.some((p) => statSync(p).mtimeMs > built);
}

if (process.argv.includes("--if-stale") && !stale()) process.exit(0);

const started = Date.now();
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
if (compiled.status !== 0) {
  console.error("build: tsc failed; dist/ is not up to date");
  process.exit(compiled.status ?? 1);
}

// Assets: replaced wholesale, so a deleted migration or schema does not linger in dist/.
// Migrations: each service's, and the shared access schema's (operator tokens).
const migrationDirs = [...readdirSync(join(root, "services")).map((service) => join("services", service)), join("shared", "access")];
for (const dir of migrationDirs) {
  const from = join(root, dir, "migrations");
  const to = join(dist, dir, "migrations");
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) cpSync(from, to, { recursive: true });
}
const schemasDist = join(dist, "schemas");
for (const path of [...walk(schemasDist)]) if (path.endsWith(".avsc")) rmSync(path);
for (const path of walk(join(root, "schemas"))) {
  if (!path.endsWith(".avsc")) continue;
  const to = join(schemasDist, relative(join(root, "schemas"), path));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(path, to);
}

// Compiled files whose .ts source was deleted or renamed.
for (const dir of sourceDirs) {
  if (!existsSync(join(dist, dir))) continue;
  for (const path of [...walk(join(dist, dir))]) {
    const m = /^(.*)\.js(\.map)?$/.exec(path);
    if (m && !existsSync(join(root, `${relative(dist, m[1] ?? "")}.ts`))) rmSync(path);
  }
}

// Stamped with the start time: a source saved while tsc ran makes the next --if-stale build again.
writeFileSync(stamp, "");
utimesSync(stamp, new Date(started), new Date(started));
console.error(`build: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
