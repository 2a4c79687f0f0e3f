// Handing out and taking back units, inside the handler's transaction.
//
// Cost does not grow with the number of units already allocated: a unit comes from the free
// list (the smallest released index, popped with FOR UPDATE SKIP LOCKED: an index lookup,
// O(log n)), else from the pool's cursor (one locked row, O(1)), which jumps over the gateway
// and reserved ranges (bounded by the number of ranges) and over units bound as statics
// (bounded by the number of statics in the pool). Nothing scans the pool or its allocations.
// Two processes at once: the free-list pop skips rows another transaction holds, the cursor row
// lock serialises cursor moves per pool, and the unique (tenant, family, address) is the final
// guard: a unit someone else got in the meantime is skipped, never handed out twice.
import { and, eq, sql } from "drizzle-orm";
import { clientOf } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { keyString, type SubscriberKey } from "../../../shared/reactor.js";
import type { Failure, Held, PlanItem, PoolInfo, Source } from "../decide.js";
import { geometry, indexToAddress, mergeRanges, skipExcluded, type Family, type IndexRange } from "../domain/addresses.js";
import { allocations } from "./schema.js";

/** A business failure met while carrying out a plan; thrown to roll back the savepoint. */
export class AllocationFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.reason);
    this.name = "AllocationFailure";
  }
}

async function tryBind(
  tx: Tx,
  row: { tenantId: string; subscriberId: string; family: Family; address: string; poolId: string | null; idx: bigint | null; source: Source },
): Promise<boolean> {
  const inserted = await tx
    .insert(allocations)
    .values(row)
    .onConflictDoNothing({ target: [allocations.tenantId, allocations.family, allocations.address] })
    .returning({ id: allocations.id });
  return inserted.length === 1;
}

/** Pops the smallest released index of a pool that no other transaction holds. */
async function popReleased(tx: Tx, tenantId: string, poolId: string): Promise<bigint | null> {
  const rows = (await tx.execute(sql`
    delete from ipam.released
     where tenant_id = ${tenantId} and pool_id = ${poolId}
       and idx = (select idx from ipam.released
                   where tenant_id = ${tenantId} and pool_id = ${poolId}
                   order by idx limit 1 for update skip locked)
    returning idx::text as idx`)) as unknown as { idx: string }[];
  const first = rows[0];
  return first ? BigInt(first.idx) : null;
}

/**
 * The cursors of the pools one unit of work allocates from. A pool's row is locked on first use
 * (in the unit's own transaction, never in a savepoint, whose rollback could give the lock back),
 * its cursor then moves in memory, and it is written back once, before the unit commits: one
 * update of the row per unit of work instead of one per allocation. (PostgreSQL's cost of
 * updating a row grows with the times that row was already updated in the same transaction, and
 * faster still across savepoints: with a unit of 1000 subscribers, one update each made an
 * allocation about twice as slow as with 200.) A free list found empty is not asked again until
 * a release or a flush.
 */
export class Cursors {
  private readonly pools = new Map<string, { tenantId: string; poolId: string; cursor: bigint; written: bigint; excluded: IndexRange[]; freeListEmpty: boolean }>();

  constructor(private readonly tx: Tx) {}

  /**
   * Locks the pools of these dynamic items now, in the unit's transaction, in the plan's order,
   * all in one statement that also reads each pool's reserved ranges and whether its free list
   * holds anything (so the first plan of a unit can be bound at the cursors in one insert too).
   */
  async prepare(tenantId: string, items: readonly PlanItem[]): Promise<void> {
    const wanted = [...new Set(items.flatMap((i) => (i.kind === "dynamic" ? [i.pool.id] : [])))].filter((id) => !this.known(tenantId, id));
    if (wanted.length === 0) return;
    const rows = await clientOf(this.tx)<Array<{ id: string; next_index: string; excluded: Array<{ first: string; last: string }>; has_released: boolean }>>`
      select p.id, p.next_index::text as next_index,
             (select coalesce(json_agg(json_build_object('first', r.first_index::text, 'last', r.last_index::text)), '[]'::json)
                from ipam.reserved r where r.tenant_id = p.tenant_id and r.pool_id = p.id) as excluded,
             exists (select 1 from ipam.released f where f.tenant_id = p.tenant_id and f.pool_id = p.id) as has_released
        from ipam.pools p
       where p.tenant_id = ${tenantId} and p.id = any(${wanted}::text[])
       order by array_position(${wanted}::text[], p.id)
         for update of p`;
    for (const id of wanted) {
      const r = rows.find((x) => x.id === id);
      if (!r) throw new Error(`pool ${id} vanished`);
      const cursor = BigInt(r.next_index);
      const excluded = mergeRanges(r.excluded.map((x) => ({ first: BigInt(x.first), last: BigInt(x.last) })));
      this.pools.set(`${tenantId}\u0000${id}`, { tenantId, poolId: id, cursor, written: cursor, excluded, freeListEmpty: !r.has_released });
    }
  }

  /** The pool's entry if this unit of work already locked it. */
  known(tenantId: string, poolId: string) {
    return this.pools.get(`${tenantId}\u0000${poolId}`);
  }

  async entry(tenantId: string, pool: PoolInfo) {
    const known = this.known(tenantId, pool.id);
    if (known) return known;
    await this.prepare(tenantId, [{ kind: "dynamic", family: pool.family, pool }]);
    const e = this.known(tenantId, pool.id);
    if (!e) throw new Error(`pool ${pool.id} vanished`);
    return e;
  }

  /** For a savepoint: what to put back if it rolls back. */
  snapshot(): Map<string, { cursor: bigint; freeListEmpty: boolean }> {
    return new Map([...this.pools].map(([k, e]) => [k, { cursor: e.cursor, freeListEmpty: e.freeListEmpty }]));
  }

  restore(snap: Map<string, { cursor: bigint; freeListEmpty: boolean }>): void {
    for (const [k, e] of this.pools) {
      const was = snap.get(k);
      if (was) Object.assign(e, was);
      else this.pools.delete(k); // first used inside the savepoint: its lock is kept, its cursor read again
    }
  }

  /** Writes the moved cursors back (before a release, which compares units with them, and before commit). */
  async flush(): Promise<void> {
    const moved = [...this.pools.values()].filter((e) => e.cursor !== e.written);
    for (const e of this.pools.values()) e.freeListEmpty = false;
    if (moved.length === 0) return;
    await clientOf(this.tx)`
      update ipam.pools p set next_index = x.next_index::numeric
        from jsonb_to_recordset(${JSON.stringify(moved.map((e) => ({ tenant_id: e.tenantId, id: e.poolId, next_index: e.cursor.toString() })))}::jsonb)
          as x(tenant_id text, id text, next_index text)
       where p.tenant_id = x.tenant_id and p.id = x.id`;
    for (const e of moved) e.written = e.cursor;
  }
}

/**
 * One unit of `pool` for the subscriber, or null when the pool is exhausted. With `cursors`, the
 * pool's cursor is the unit of work's (see Cursors); without, the row is locked and updated here.
 */
export async function allocateDynamic(tx: Tx, tenantId: string, subscriberId: string, pool: PoolInfo, cursors?: Cursors): Promise<{ address: string; idx: bigint } | null> {
  const g = geometry(pool.family, pool.cidr, pool.delegatedLength);
  const bind = (idx: bigint) => {
    const address = indexToAddress(g, idx);
    return tryBind(tx, { tenantId, subscriberId, family: pool.family, address, poolId: pool.id, idx, source: "dynamic" }).then((ok) => (ok ? { address, idx } : null));
  };
  const own = cursors ?? new Cursors(tx);
  const e = await own.entry(tenantId, pool);
  while (!e.freeListEmpty) {
    const idx = await popReleased(tx, tenantId, pool.id);
    if (idx === null) {
      e.freeListEmpty = true;
      break;
    }
    const got = await bind(idx);
    if (got) return got; // else: bound as a static since it was released; drop it and pop the next
  }
  let cursor = e.cursor > g.first ? e.cursor : g.first;
  for (;;) {
    const candidate = skipExcluded(cursor, e.excluded);
    if (candidate >= g.end) return null;
    cursor = candidate + 1n;
    const got = await bind(candidate);
    if (got) {
      e.cursor = cursor;
      if (!cursors) await own.flush();
      return got;
    }
  }
}

/** Binds a static the decision placed in a pool (decide.ts placeStatic); another subscriber holding it fails static_ip_in_use. */
export async function bindStatic(tx: Tx, tenantId: string, subscriberId: string, item: Extract<PlanItem, { kind: "static" }>): Promise<void> {
  const ok = await tryBind(tx, { tenantId, subscriberId, family: item.family, address: item.address, poolId: item.poolId, idx: item.idx, source: item.source });
  if (!ok) {
    const [owner] = await tx
      .select({ subscriberId: allocations.subscriberId })
      .from(allocations)
      .where(and(eq(allocations.tenantId, tenantId), eq(allocations.family, item.family), eq(allocations.address, item.address)));
    throw new AllocationFailure({ code: "static_ip_in_use", reason: `static ${item.family} ${item.address} is bound to subscriber ${owner?.subscriberId ?? "(another subscriber)"}` });
  }
  // A released unit now bound as a static must not come off the free list.
  await tx.execute(sql`delete from ipam.released where tenant_id = ${tenantId} and pool_id = ${item.poolId} and idx = ${item.idx.toString()}::numeric`);
}

/**
 * The common case in one statement: every item dynamic, each from a pool whose row this unit of
 * work holds and whose free list it found empty; the next unit at each cursor is bound, all in
 * one insert. Null when that does not apply or one of the units is taken (bound as a static
 * since the cursor passed it): what was inserted is removed again and the caller goes the
 * one-by-one way (carryOut), which skips taken units. A failure of the insert itself fails it
 * as carryOut's would.
 */
export async function bindAtCursors(tx: Tx, tenantId: string, subscriberId: string, items: readonly PlanItem[], cursors: Cursors): Promise<Held[] | null> {
  const picks: Array<{ entry: NonNullable<ReturnType<Cursors["known"]>>; family: Family; address: string; poolId: string; idx: bigint }> = [];
  for (const item of items) {
    if (item.kind !== "dynamic") return null;
    const entry = cursors.known(tenantId, item.pool.id);
    if (!entry || !entry.freeListEmpty || picks.some((p) => p.poolId === item.pool.id)) return null;
    const g = geometry(item.pool.family, item.pool.cidr, item.pool.delegatedLength);
    const idx = skipExcluded(entry.cursor > g.first ? entry.cursor : g.first, entry.excluded);
    if (idx >= g.end) return null; // exhausted: carryOut says so
    picks.push({ entry, family: item.family, address: indexToAddress(g, idx), poolId: item.pool.id, idx });
  }
  if (picks.length === 0) return null;
  const rows = picks.map((p) => ({ family: p.family, address: p.address, pool_id: p.poolId, idx: p.idx.toString() }));
  const sql = clientOf(tx);
  const inserted = await sql<{ id: string }[]>`
    insert into ipam.allocations (tenant_id, subscriber_id, family, address, pool_id, idx, source)
    select ${tenantId}, ${subscriberId}, x.family, x.address, x.pool_id, x.idx::numeric, 'dynamic'
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(family text, address text, pool_id text, idx text)
    on conflict (tenant_id, family, address) do nothing
    returning id::text as id`;
  if (inserted.length !== picks.length) {
    if (inserted.length > 0) await sql`delete from ipam.allocations where id = any(array(select jsonb_array_elements_text(${JSON.stringify(inserted.map((r) => r.id))}::jsonb)::bigint))`;
    return null;
  }
  for (const p of picks) p.entry.cursor = p.idx + 1n;
  return picks.map((p) => ({ family: p.family, address: p.address, source: "dynamic" }));
}

/** Carries out a plan; throws AllocationFailure (the caller rolls back its savepoint). */
export async function carryOut(tx: Tx, tenantId: string, subscriberId: string, items: readonly PlanItem[], cursors?: Cursors): Promise<Held[]> {
  const got: Held[] = [];
  // Fixed order ipv4, ipv6, ipv6_pd (the plan's order): pool row locks are always taken in the same order.
  for (const item of items) {
    if (item.kind === "static") {
      await bindStatic(tx, tenantId, subscriberId, item);
      got.push({ family: item.family, address: item.address, source: item.source });
    } else {
      const unit = await allocateDynamic(tx, tenantId, subscriberId, item.pool, cursors);
      if (!unit) throw new AllocationFailure({ code: "pool_exhausted", reason: `pool '${item.pool.name}' (${item.pool.cidr}) has no free ${item.family} unit left` });
      got.push({ family: item.family, address: unit.address, source: "dynamic" });
    }
  }
  return got;
}

export async function heldBy(tx: Tx, tenantId: string, subscriberId: string): Promise<Held[]> {
  const key = { tenant_id: tenantId, subscriber_id: subscriberId };
  return (await heldByAll(tx, [key])).get(keyString(key)) ?? [];
}

/** What each of these subscribers holds, in one statement (a subscriber holding nothing maps to []). */
export async function heldByAll(tx: Tx, keys: readonly SubscriberKey[]): Promise<Map<string, Held[]>> {
  const out = new Map<string, Held[]>(keys.map((k) => [keyString(k), []]));
  if (keys.length === 0) return out;
  // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
  // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
  const rows = await clientOf(tx)<Array<Held & SubscriberKey>>`
    select a.tenant_id, a.subscriber_id, a.family, a.address, a.source
      from jsonb_to_recordset(${JSON.stringify(keys.map((k) => ({ tenant_id: k.tenant_id, subscriber_id: k.subscriber_id })))}::jsonb) as k(tenant_id text, subscriber_id text)
      cross join lateral (select * from ipam.allocations a where a.tenant_id = k.tenant_id and a.subscriber_id = k.subscriber_id offset 0) a`;
  for (const r of rows) out.get(keyString(r))?.push({ family: r.family, address: r.address, source: r.source });
  return out;
}

/**
 * Unbinds everything the subscriber holds. Units inside a pool below its cursor go on the free
 * list (dynamic ones always; statics the cursor skipped too); the others the cursor reaches anyway.
 */
export async function releaseAll(tx: Tx, tenantId: string, subscriberId: string): Promise<Held[]> {
  const rows = (await tx.execute(sql`
    with gone as (
      delete from ipam.allocations where tenant_id = ${tenantId} and subscriber_id = ${subscriberId}
      returning tenant_id, family, address, pool_id, idx, source
    ), freed as (
      insert into ipam.released (tenant_id, pool_id, idx)
      select g.tenant_id, g.pool_id, g.idx from gone g
        join ipam.pools p on p.id = g.pool_id and p.tenant_id = g.tenant_id
       where g.idx is not null and g.idx < p.next_index
      on conflict do nothing
    )
    select family, address, source from gone`)) as unknown as Held[];
  const order: Family[] = ["ipv4", "ipv6", "ipv6_pd"];
  return [...rows].sort((a, b) => order.indexOf(a.family) - order.indexOf(b.family));
}
