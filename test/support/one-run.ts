// globalSetup of the integration project: one integration run at a time on a machine. Runs share
// the local stack's fixed service ports (scripts/run-services.ts servicePorts) and the services'
// consumer groups and schemas, so a second run started meanwhile (another clone, another
// terminal) would talk to the first run's services, or take half their partitions. It waits for
// the first to finish instead. The lock is a file holding the holder's pid; a lock whose process
// is gone is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const lockFile = join(tmpdir(), "fiber-provisioning-integration.lock");
const maxWaitMs = 60 * 60_000;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

function tryLock(): number | null {
  try {
    const fd = openSync(lockFile, "wx");
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const holder = Number(readFileSync(lockFile, "utf8").trim());
  if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
    try {
      unlinkSync(lockFile); // left by a run that died
    } catch {
      // another run took it over first
    }
    return tryLock();
  }
  return holder;
}

export default async function setup(): Promise<() => void> {
  const started = Date.now();
  let said = 0;
  for (let holder = tryLock(); holder !== null; holder = tryLock()) {
    if (Date.now() - started > maxWaitMs) throw new Error(`another integration run (pid ${holder}) has held ${lockFile} for an hour`);
    if (holder !== said) console.log(`waiting for the integration run of pid ${holder} to finish (${lockFile})`);
    said = holder;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return () => {
    try {
      if (readFileSync(lockFile, "utf8").trim() === String(process.pid)) unlinkSync(lockFile);
    } catch {
      // already gone
    }
  };
}
