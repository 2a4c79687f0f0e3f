// CPU seconds and peak RSS of processes, read from /proc (Linux): what the benchmark prints per
// process. CPU is utime + stime of the process and its waited-for children; peak RSS is VmHWM.
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds used so far by one process, in user and in kernel (system) mode, or null once it is gone. */
export function cpuTimes(pid: number): { user: number; system: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond };
  } catch {
    return null;
  }
}

/** CPU seconds used so far by one process, or null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  const t = cpuTimes(pid);
  return t === null ? null : t.user + t.system;
}

/** Peak resident set size in MB (VmHWM), or null once the process is gone. */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Current RSS in MB. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Every process whose command name is `comm` (e.g. all PostgreSQL backends). */
export function pidsByComm(comm: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,comm="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === comm)
    .map((f) => Number(f[0]));
}

export function pidFromFile(path: string): number | null {
  if (!existsSync(path)) return null;
  const pid = Number(readFileSync(path, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * CPU accounting of a group of processes between two points in time. PostgreSQL backends come
 * and go: a group given as a function is re-listed at each sample, and a process that exited in
 * between is counted up to its last sample.
 */
export class CpuMeter {
  private readonly first = new Map<number, { user: number; system: number }>();
  private readonly last = new Map<number, { user: number; system: number }>();
  private peak = 0;

  constructor(private readonly pids: () => readonly number[]) {}

  sample(): void {
    let rss = 0;
    for (const pid of this.pids()) {
      const cpu = cpuTimes(pid);
      if (cpu === null) continue;
      if (!this.first.has(pid)) this.first.set(pid, cpu);
      this.last.set(pid, cpu);
      rss += rssMb(pid) ?? 0;
    }
    this.peak = Math.max(this.peak, rss);
  }

  /** CPU seconds used since the first sample. */
  seconds(): number {
    return this.userSeconds() + this.systemSeconds();
  }

  /** Of which in user mode. */
  userSeconds(): number {
    let total = 0;
    for (const [pid, end] of this.last) total += end.user - (this.first.get(pid) ?? end).user;
    return total;
  }

  /** Of which in the kernel (system calls: sockets, disk). */
  systemSeconds(): number {
    let total = 0;
    for (const [pid, end] of this.last) total += end.system - (this.first.get(pid) ?? end).system;
    return total;
  }

  /** Peak resident size: the process's own high-water mark for one process, else the sampled peak of the sum. */
  peakRssMb(): number {
    const pids = [...this.last.keys()];
    if (pids.length === 1 && pids[0] !== undefined) return peakRssMb(pids[0]) ?? this.peak;
    return this.peak;
  }
}
