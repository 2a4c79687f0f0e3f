// globalSetup of the integration project: services are spawned compiled, from dist/, so dist/
// must match the sources. Builds when any source is newer than the last build (npm test has
// built already, so then this only compares modification times).
import { execFileSync } from "node:child_process";
import { repoRoot } from "../../scripts/run-services.js";

export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: repoRoot, stdio: "inherit" });
}
