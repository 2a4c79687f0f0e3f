// The checker's output, pure: one line per breach (invariant, tenant, subscriber, what differs),
// one per thing still in flight, then a summary per invariant. The exit code is the caller's:
// non-zero exactly when there is a breach.
import { invariants, type Finding, type Report } from "./model.js";

export interface Counts {
  readonly subscribers: number;
  readonly byStatus: ReadonlyMap<string, number>;
  readonly orders: number;
  readonly documents: number;
  readonly events: number;
}

export const merge = (...reports: readonly Report[]): Report => ({
  breaches: reports.flatMap((r) => r.breaches),
  inFlight: reports.flatMap((r) => r.inFlight),
});

const order = (a: Finding, b: Finding): number =>
  invariants.indexOf(a.invariant) - invariants.indexOf(b.invariant) ||
  a.tenant.localeCompare(b.tenant) ||
  (a.subscriber ?? "").localeCompare(b.subscriber ?? "") ||
  a.detail.localeCompare(b.detail);

export const line = (kind: "BREACH" | "IN FLIGHT", f: Finding): string =>
  `${kind.padEnd(9)} ${f.invariant.padEnd(15)} tenant=${f.tenant} subscriber=${f.subscriber ?? "-"}: ${f.detail}`;

export function formatReport(report: Report, counts: Counts, scope: { tenant: string | null; graceMs: number }): string[] {
  const out = [...[...report.breaches].sort(order).map((f) => line("BREACH", f)), ...[...report.inFlight].sort(order).map((f) => line("IN FLIGHT", f))];
  const statuses = [...counts.byStatus].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${n} ${s}`).join(", ");
  out.push(
    `checked ${scope.tenant ? `tenant ${scope.tenant}` : "every tenant"}: ${counts.subscribers} subscribers${statuses ? ` (${statuses})` : ""}, ${counts.orders} orders, ${counts.documents} projection documents, ${counts.events} lifecycle events; grace ${Math.round(scope.graceMs / 1000)} s`,
  );
  for (const inv of invariants) {
    const b = report.breaches.filter((f) => f.invariant === inv).length;
    const w = report.inFlight.filter((f) => f.invariant === inv).length;
    out.push(`  ${inv.padEnd(15)} ${b === 0 ? "ok" : `${b} breach${b === 1 ? "" : "es"}`}${w > 0 ? `, ${w} in flight` : ""}`);
  }
  const n = report.breaches.length;
  out.push(n === 0 ? "consistent" : `${n} breach${n === 1 ? "" : "es"}`);
  return out;
}

/** "180s", "3m", "500ms", "2h" or a number of milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration (e.g. 180s, 3m, 500ms)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}
