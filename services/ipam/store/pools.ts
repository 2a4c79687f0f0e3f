// Pool administration (CLI, admin route, tests): define a pool with its gateway, reserved ranges
// and usage, list pools with used / free counts, seed the demo tenant; the tenant's pools as the
// decisions see them.
import { and, asc, count, eq, sql } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import { newId } from "../../../shared/ids.js";
import type { Tx } from "../../../shared/outbox.js";
import { clientOf } from "../../../shared/db.js";
import type { PoolInfo, PoolUsage } from "../decide.js";
import { AddressError, addressToIndex, capacity, geometry, overlaps, parseAddress, parseCidr, reservedRange, type Family, type IndexRange } from "../domain/addresses.js";
import { allocations, pools, reserved } from "./schema.js";

export interface PoolInput {
  readonly tenantId: string;
  readonly name: string;
  readonly kind: Family;
  readonly cidr: string;
  readonly gateway?: string | null;
  readonly delegatedLength?: number | null;
  /** "first-last" or a single address (PD: prefixes). */
  readonly reserve?: readonly string[];
  readonly isDefault?: boolean;
  /** dynamic | static | both (the default): see decide.ts PoolUsage. */
  readonly usage?: PoolUsage;
}

export type PoolRow = typeof pools.$inferSelect;

/** A pool as the decisions see it; `reserved` as read by loadPoolInfos (a pool used only for dynamic units needs none). */
export const poolInfo = (p: PoolRow, reserved: PoolInfo["reserved"] = []): PoolInfo => ({
  id: p.id,
  name: p.name,
  family: p.kind,
  cidr: p.cidr,
  gateway: p.gateway,
  delegatedLength: p.delegatedLength,
  isDefault: p.isDefault,
  usage: p.usage,
  reserved,
});

/** Validates and stores a pool; throws AddressError with a readable reason for a pool that makes no sense. */
export async function addPool(db: Db, input: PoolInput): Promise<PoolRow> {
  const g = geometry(input.kind, input.cidr, input.kind === "ipv6_pd" ? (input.delegatedLength ?? null) : null);
  if (input.kind !== "ipv6_pd" && input.delegatedLength != null) throw new AddressError("only an ipv6_pd pool has a delegated length");
  if (input.isDefault && input.usage === "static") throw new AddressError("a pool for static addresses only can not be the default pool (which serves dynamic allocation)");
  let gateway: string | null = null;
  const ranges: { range: IndexRange; label: string }[] = [];
  if (input.gateway) {
    if (input.kind === "ipv6_pd") throw new AddressError("an ipv6_pd pool has no gateway");
    gateway = parseAddress(input.kind, input.gateway).text;
    const gi = addressToIndex(g, gateway);
    if (gi === null) throw new AddressError(`gateway ${gateway} is not inside ${input.cidr}`);
    ranges.push({ range: { first: gi, last: gi }, label: `gateway ${gateway}` });
  }
  for (const r of input.reserve ?? []) ranges.push({ range: reservedRange(g, r), label: r });
  const cidr = parseCidr(input.kind === "ipv4" ? "ipv4" : "ipv6", input.cidr).text;
  const version = input.kind === "ipv4" ? "ipv4" : "ipv6";
  const clash = (await loadPools(db, input.tenantId)).find((p) => (p.kind === "ipv4") === (version === "ipv4") && overlaps(version, p.cidr, cidr));
  if (clash) throw new AddressError(`${cidr} overlaps pool '${clash.name}' (${clash.cidr}) of this tenant`);
  return db.transaction(async (tx) => {
    if (input.isDefault) {
      await tx.update(pools).set({ isDefault: false }).where(and(eq(pools.tenantId, input.tenantId), eq(pools.kind, input.kind), eq(pools.isDefault, true)));
    }
    const [row] = await tx
      .insert(pools)
      .values({
        id: newId(),
        tenantId: input.tenantId,
        name: input.name,
        kind: input.kind,
        cidr,
        gateway,
        delegatedLength: input.kind === "ipv6_pd" ? (input.delegatedLength ?? null) : null,
        isDefault: input.isDefault ?? false,
        usage: input.usage ?? "both",
        nextIndex: g.first,
        size: g.size,
      })
      .returning();
    if (!row) throw new Error("pool insert returned nothing");
    if (ranges.length > 0) {
      await tx.insert(reserved).values(ranges.map(({ range, label }) => ({ tenantId: input.tenantId, poolId: row.id, firstIndex: range.first, lastIndex: range.last, label })));
    }
    return row;
  });
}

export async function loadPools(tx: Tx | Db, tenantId: string): Promise<PoolRow[]> {
  return tx.select().from(pools).where(eq(pools.tenantId, tenantId)).orderBy(asc(pools.name));
}

/** The tenant's pools with their reserved ranges (the gateway's among them), in one statement. */
export async function loadPoolInfos(tx: Tx | Db, tenantId: string): Promise<PoolInfo[]> {
  const rows = await clientOf(tx)<
    Array<{ id: string; name: string; kind: PoolInfo["family"]; cidr: string; gateway: string | null; delegated_length: number | null; is_default: boolean; usage: PoolUsage; reserved: Array<{ first: string; last: string; label: string }> }>
  >`
    select p.id, p.name, p.kind, p.cidr, p.gateway, p.delegated_length, p.is_default, p.usage,
           (select coalesce(json_agg(json_build_object('first', r.first_index::text, 'last', r.last_index::text, 'label', r.label) order by r.first_index), '[]'::json)
              from ipam.reserved r where r.tenant_id = p.tenant_id and r.pool_id = p.id) as reserved
      from ipam.pools p
     where p.tenant_id = ${tenantId}
     order by p.name`;
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    family: r.kind,
    cidr: r.cidr,
    gateway: r.gateway,
    delegatedLength: r.delegated_length,
    isDefault: r.is_default,
    usage: r.usage,
    reserved: r.reserved.map((x) => ({ first: BigInt(x.first), last: BigInt(x.last), label: x.label })),
  }));
}

export interface PoolSummary {
  readonly name: string;
  readonly kind: Family;
  readonly cidr: string;
  readonly gateway: string | null;
  readonly delegated_length: number | null;
  readonly is_default: boolean;
  readonly usage: PoolUsage;
  readonly reserved: readonly string[];
  readonly capacity: string;
  readonly used: number;
  readonly free: string;
}

/** Pools of a tenant with used / free counts (admin only: counting is linear, allocation is not). */
export async function listPools(db: Db, tenantId: string): Promise<PoolSummary[]> {
  const rows = await loadPools(db, tenantId);
  const used = await db
    .select({ poolId: allocations.poolId, n: count() })
    .from(allocations)
    .where(and(eq(allocations.tenantId, tenantId), sql`${allocations.poolId} is not null`))
    .groupBy(allocations.poolId);
  const out: PoolSummary[] = [];
  for (const p of rows) {
    const res = await db.select().from(reserved).where(and(eq(reserved.tenantId, tenantId), eq(reserved.poolId, p.id))).orderBy(asc(reserved.id));
    const cap = capacity(geometry(p.kind, p.cidr, p.delegatedLength), res.map((r) => ({ first: r.firstIndex, last: r.lastIndex })));
    const n = used.find((u) => u.poolId === p.id)?.n ?? 0;
    out.push({
      name: p.name,
      kind: p.kind,
      cidr: p.cidr,
      gateway: p.gateway,
      delegated_length: p.delegatedLength,
      is_default: p.isDefault,
      usage: p.usage,
      reserved: res.map((r) => r.label),
      capacity: cap.toString(),
      used: n,
      free: (cap - BigInt(n)).toString(),
    });
  }
  return out;
}

/** Demo pools for a tenant (idempotent by pool name). */
export const demoPools = (tenantId: string): PoolInput[] => [
  { tenantId, name: "residential-v4", kind: "ipv4", cidr: "100.64.0.0/20", gateway: "100.64.0.1", reserve: ["100.64.0.2-100.64.0.15"], isDefault: true },
  { tenantId, name: "residential-v6", kind: "ipv6", cidr: "2001:db8:ffff::/64", gateway: "2001:db8:ffff::1", isDefault: true },
  { tenantId, name: "residential-pd56", kind: "ipv6_pd", cidr: "2001:db8:100::/40", delegatedLength: 56, isDefault: true },
  { tenantId, name: "business-pd60", kind: "ipv6_pd", cidr: "2001:db8:200::/44", delegatedLength: 60 },
];

export async function seedDemo(db: Db, tenantId: string): Promise<string[]> {
  const existing = new Set((await loadPools(db, tenantId)).map((p) => p.name));
  const added: string[] = [];
  for (const p of demoPools(tenantId)) {
    if (existing.has(p.name)) continue;
    await addPool(db, p);
    added.push(p.name);
  }
  return added;
}
