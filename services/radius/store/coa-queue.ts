// The CoA / Disconnect queue: requests are claimed in a short transaction (status sending, a claim
// token, a lease), sent with no transaction open, and their outcomes recorded in another short
// transaction that only the current claim can win. A request whose lease ran out (its dispatcher
// died) is claimable again.
import { and, eq, inArray, lte, or, sql } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import { lockKey } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { nasKey, pickClaims, type ClaimCandidate } from "../coa-window.js";
import { coaRequests, nasDevices, type CoaKind } from "./schema.js";
import type { NewCoa } from "./store.js";

export interface ClaimOptions {
  /** At most this many requests in all. */
  readonly limit: number;
  /** At most this many unrecorded claims per NAS, counting every dispatcher's live claims. */
  readonly window: number;
  readonly leaseMs: number;
  /** Identifies this claim: only it may record the outcome of what it claimed. */
  readonly token: string;
  /** Only these tenants' requests (a test or a benchmark on the shared database); all when absent. */
  readonly tenants?: readonly string[] | undefined;
}

export interface ClaimedCoa {
  readonly id: string;
  readonly tenantId: string;
  readonly subscriberId: string;
  readonly username: string;
  readonly kind: CoaKind;
  readonly nasId: string;
  readonly attributes: Record<string, string>;
  readonly causeEventId: string;
  readonly correlationId: string | null;
  readonly claimToken: string;
  /** Where to send it; null when the NAS has been removed from the registry since it was queued. */
  readonly target: { readonly address: string; readonly port: number; readonly secret: string } | null;
}

/** Claims are taken one transaction at a time (across processes), so every claim sees the windows the others hold. */
const claimLock = lockKey("coa-claim:radius").toString();

const open = sql`status in ('pending', 'sending')`;

/**
 * Claimable requests (pending, or sending with a lease that ran out), oldest first, at most
 * `window - busy` per NAS, where busy counts the NAS's live claims. Walks the open requests NAS by
 * NAS on the coa_requests_open index (a loose index scan), so its cost follows the number of NASes
 * with open requests and the window rather than the length of the queue (plus the index entries
 * of requests finished since the last vacuum, which a scan still steps over).
 */
async function candidates(tx: Tx, window: number, limit: number, tenants: readonly string[] | undefined): Promise<ClaimCandidate[]> {
  const scope = tenants ? sql`and tenant_id in (${sql.join(tenants.map((t) => sql`${t}`), sql`, `)})` : sql``;
  const rows = (await tx.execute(sql`
    with recursive nas as (
      (select tenant_id, nas_id from ${coaRequests}
        where ${open} and nas_id is not null ${scope}
        order by tenant_id, nas_id limit 1)
      union all
      select nx.tenant_id, nx.nas_id from nas n cross join lateral (
        select tenant_id, nas_id from ${coaRequests}
         where ${open} and nas_id is not null ${scope} and (tenant_id, nas_id) > (n.tenant_id, n.nas_id)
         order by tenant_id, nas_id limit 1) nx
    )
    select n.tenant_id, n.nas_id, b.busy, o.id
      from nas n
      cross join lateral (
        select count(*)::int as busy from ${coaRequests}
         where tenant_id = n.tenant_id and nas_id = n.nas_id and status = 'sending' and claimed_until > now()) b
      cross join lateral (
        select id, created_at from ${coaRequests}
         where tenant_id = n.tenant_id and nas_id = n.nas_id and ${open}
           and (status = 'pending' or claimed_until <= now())
         order by created_at, id
         limit greatest(${window}::int - b.busy, 0)) o
     order by o.created_at, o.id
     limit ${limit}::int`)) as unknown as { tenant_id: string; nas_id: string; busy: number; id: string }[];
  return rows.map((r) => ({ id: r.id, nasKey: nasKey(r.tenant_id, r.nas_id), busy: r.busy }));
}

/** Claims up to `limit` requests within the NAS windows, with their NAS's address, port and secret. */
export async function claimCoa(db: Db, o: ClaimOptions): Promise<ClaimedCoa[]> {
  if (o.limit <= 0 || (o.tenants && o.tenants.length === 0)) return [];
  return db.transaction(async (tx) => {
    // JIT off: the queue's changing statistics can make the claim look costly enough to compile,
    // which costs tens of milliseconds per claim for a query that runs in about one.
    await tx.execute(sql`select pg_advisory_xact_lock(${claimLock}::bigint), set_config('jit', 'off', true)`);
    const ids = pickClaims(await candidates(tx, o.window, o.limit, o.tenants), o.window, o.limit);
    if (ids.length === 0) return [];
    const claimable = and(inArray(coaRequests.id, ids), or(eq(coaRequests.status, "pending"), and(eq(coaRequests.status, "sending"), lte(coaRequests.claimedUntil, sql`now()`))));
    const locked = tx.select({ id: coaRequests.id }).from(coaRequests).where(claimable).for("update", { skipLocked: true });
    const rows = await tx
      .update(coaRequests)
      .set({ status: "sending", claimToken: o.token, claimedUntil: sql`now() + ${o.leaseMs}::int * interval '1 millisecond'` })
      .where(inArray(coaRequests.id, locked))
      .returning({
        id: coaRequests.id,
        tenantId: coaRequests.tenantId,
        subscriberId: coaRequests.subscriberId,
        username: coaRequests.username,
        kind: coaRequests.kind,
        nasId: coaRequests.nasId,
        attributes: coaRequests.attributes,
        causeEventId: coaRequests.causeEventId,
        correlationId: coaRequests.correlationId,
        createdAt: coaRequests.createdAt,
      });
    if (rows.length === 0) return [];
    const pairs = [...new Map(rows.map((r) => [nasKey(r.tenantId, r.nasId ?? ""), { tenantId: r.tenantId, nasId: r.nasId ?? "" }])).values()];
    const devices = await tx
      .select({ tenantId: nasDevices.tenantId, nasId: nasDevices.nasId, address: nasDevices.address, port: nasDevices.coaPort, secret: nasDevices.secret })
      .from(nasDevices)
      .where(or(...pairs.map((p) => and(eq(nasDevices.tenantId, p.tenantId), eq(nasDevices.nasId, p.nasId)))));
    const byKey = new Map(devices.map((d) => [nasKey(d.tenantId, d.nasId), { address: d.address, port: d.port, secret: d.secret }]));
    return rows
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
      .map(({ createdAt: _createdAt, ...r }) => ({ ...r, nasId: r.nasId ?? "", claimToken: o.token, target: byKey.get(nasKey(r.tenantId, r.nasId ?? "")) ?? null }));
  });
}

export type CoaOutcomeStatus = "ack" | "nak" | "timeout" | "error" | "no_session" | "unknown_nas";

export interface CoaOutcome {
  readonly id: string;
  readonly claimToken: string;
  readonly status: CoaOutcomeStatus;
  readonly errorCause: number | null;
  readonly attempts: number;
}

/** A request whose outcome this call recorded (its claim was still the current one). */
export type RecordedCoa = Pick<NewCoa, "id" | "tenantId" | "subscriberId" | "username" | "kind" | "nasId" | "causeEventId" | "correlationId"> & {
  readonly status: CoaOutcomeStatus;
  readonly errorCause: number | null;
  readonly attempts: number;
};

/**
 * Records outcomes in one statement, each only if its request is still sending under the same
 * claim token: a claim that lost its request (its lease ran out and another dispatcher took it,
 * or recorded it) records nothing. Returns the requests recorded, so the caller reports exactly those.
 */
export async function recordCoaOutcomes(tx: Tx, outcomes: readonly CoaOutcome[]): Promise<RecordedCoa[]> {
  if (outcomes.length === 0) return [];
  const values = JSON.stringify(outcomes.map((o) => ({ id: o.id, token: o.claimToken, status: o.status, error_cause: o.errorCause, attempts: o.attempts })));
  const rows = (await tx.execute(sql`
    update ${coaRequests} as c
       set status = v.status, error_cause = v.error_cause, attempts = v.attempts, completed_at = now(), claimed_until = null
      from jsonb_to_recordset(${values}::jsonb) as v(id text, token text, status text, error_cause int, attempts int)
     where c.id = v.id and c.claim_token = v.token and c.status = 'sending'
    returning c.id, c.tenant_id, c.subscriber_id, c.username, c.kind, c.nas_id, c.cause_event_id, c.correlation_id, c.status, c.error_cause, c.attempts`)) as unknown as {
    id: string;
    tenant_id: string;
    subscriber_id: string;
    username: string;
    kind: CoaKind;
    nas_id: string | null;
    cause_event_id: string;
    correlation_id: string | null;
    status: CoaOutcomeStatus;
    error_cause: number | null;
    attempts: number;
  }[];
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    subscriberId: r.subscriber_id,
    username: r.username,
    kind: r.kind,
    nasId: r.nas_id,
    causeEventId: r.cause_event_id,
    correlationId: r.correlation_id,
    status: r.status,
    errorCause: r.error_cause,
    attempts: r.attempts,
  }));
}
