// A process started by one of our launchers stops when the launcher is gone (killed with SIGKILL,
// its terminal closed, npm ended): Linux hands an orphan to another parent, so the launcher's pid,
// passed in FIBER_PARENT_PID, is no longer this process's parent pid. Node has no
// prctl(PR_SET_PDEATHSIG); a look once a second is enough for processes that take a few seconds
// to stop gracefully anyway.

export const parentPidVariable = "FIBER_PARENT_PID";

/**
 * Calls `stop` once when the process whose pid `env.FIBER_PARENT_PID` names is no longer this
 * process's parent (at once if it already is not). Without the variable it watches nothing.
 * Returns a function that stops watching.
 */
export function onParentGone(stop: () => void, env: Readonly<Record<string, string | undefined>> = process.env, everyMs = 1_000): () => void {
  const pid = Number(env[parentPidVariable]);
  if (!Number.isInteger(pid) || pid <= 1) return () => {};
  if (process.ppid !== pid) {
    stop();
    return () => {};
  }
  const timer = setInterval(() => {
    if (process.ppid === pid) return;
    clearInterval(timer);
    stop();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
