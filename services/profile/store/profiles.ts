// Network profile storage (the seed's SubscriberNetworkProfileService). Every function takes the
// tenant and filters by it: one tenant never reads or changes another's profiles.
import { and, eq, inArray, isNull, sql as dsql, type SQL } from "drizzle-orm";
import type { FiberNetworkConfig } from "../../../schemas/generated/events.js";
import { clientOf, type Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { keyString } from "../../../shared/reactor.js";
import type { IpWriteback } from "../decide.js";
import { subscriberNetworkProfiles as p } from "./schema.js";

export type Executor = Db | Tx;
export type ProfileRow = typeof p.$inferSelect;
export type ProfileFields = Partial<FiberNetworkConfig> & { readonly metadata?: Record<string, string> };

/** Config fields → columns; only the fields given (an update leaves the others as they are). */
function columns(f: ProfileFields): Partial<typeof p.$inferInsert> {
  const c: Partial<typeof p.$inferInsert> = {};
  if (f.service_vlan !== undefined) c.serviceVlan = f.service_vlan;
  if (f.inner_vlan !== undefined) c.innerVlan = f.inner_vlan;
  if (f.qinq_enabled !== undefined) c.qinqEnabled = f.qinq_enabled;
  if (f.vlan_pool !== undefined) c.vlanPool = f.vlan_pool;
  if (f.circuit_id !== undefined) c.circuitId = f.circuit_id;
  if (f.remote_id !== undefined) c.remoteId = f.remote_id;
  if (f.option82_policy !== undefined) c.option82Policy = f.option82_policy;
  if (f.static_ipv4 !== undefined) c.staticIpv4 = f.static_ipv4;
  if (f.static_ipv6 !== undefined) c.staticIpv6 = f.static_ipv6;
  if (f.delegated_ipv6_prefix !== undefined) c.delegatedIpv6Prefix = f.delegated_ipv6_prefix;
  if (f.ipv6_pd_size !== undefined) c.ipv6PdSize = f.ipv6_pd_size;
  if (f.ipv6_assignment_mode !== undefined) c.ipv6AssignmentMode = f.ipv6_assignment_mode;
  if (f.ipv4_pool !== undefined) c.ipv4Pool = f.ipv4_pool;
  if (f.ipv6_pool !== undefined) c.ipv6Pool = f.ipv6_pool;
  if (f.ipv6_pd_pool !== undefined) c.ipv6PdPool = f.ipv6_pd_pool;
  if (f.metadata !== undefined) c.metadata = f.metadata;
  return c;
}

/** The NetworkConfig a row holds. */
export const configOf = (r: ProfileRow): FiberNetworkConfig => ({
  service_vlan: r.serviceVlan,
  inner_vlan: r.innerVlan,
  qinq_enabled: r.qinqEnabled,
  vlan_pool: r.vlanPool,
  circuit_id: r.circuitId,
  remote_id: r.remoteId,
  option82_policy: r.option82Policy,
  static_ipv4: r.staticIpv4,
  static_ipv6: r.staticIpv6,
  delegated_ipv6_prefix: r.delegatedIpv6Prefix,
  ipv6_pd_size: r.ipv6PdSize,
  ipv6_assignment_mode: r.ipv6AssignmentMode,
  ipv4_pool: r.ipv4Pool,
  ipv6_pool: r.ipv6Pool,
  ipv6_pd_pool: r.ipv6PdPool,
});

const ofSubscriber = (tenantId: string, subscriberId: string): SQL | undefined =>
  and(eq(p.tenantId, tenantId), eq(p.subscriberId, subscriberId));

/**
 * Creates the subscriber's profile, or updates the given fields of the one it has. The profile is
 * unique per (tenant, subscriber), so a soft-deleted one is brought back (deleted_at cleared)
 * rather than duplicated. `id` is used only when the row is new.
 */
export async function upsertProfile(db: Executor, tenantId: string, subscriberId: string, fields: ProfileFields, id: string): Promise<ProfileRow> {
  const set = { ...columns(fields), updatedAt: new Date(), deletedAt: null };
  const rows = await db
    .insert(p)
    .values({ id, tenantId, subscriberId, ...set })
    .onConflictDoUpdate({ target: [p.tenantId, p.subscriberId], set })
    .returning();
  const row = rows[0];
  if (!row) throw new Error(`upsert of the network profile of ${subscriberId} returned no row`);
  return row;
}

type RawRow = {
  id: string; tenant_id: string; subscriber_id: string; service_vlan: number | null; inner_vlan: number | null; qinq_enabled: boolean;
  vlan_pool: string | null; circuit_id: string | null; remote_id: string | null; option82_policy: string; static_ipv4: string | null;
  static_ipv6: string | null; delegated_ipv6_prefix: string | null; ipv6_pd_size: number | null; ipv6_assignment_mode: string;
  ipv4_pool: string | null; ipv6_pool: string | null; ipv6_pd_pool: string | null; metadata: Record<string, string>;
  created_at: Date; updated_at: Date; deleted_at: Date | null;
};

const fromRaw = (r: RawRow): ProfileRow => ({
  id: r.id, tenantId: r.tenant_id, subscriberId: r.subscriber_id, serviceVlan: r.service_vlan, innerVlan: r.inner_vlan, qinqEnabled: r.qinq_enabled,
  vlanPool: r.vlan_pool, circuitId: r.circuit_id, remoteId: r.remote_id, option82Policy: r.option82_policy, staticIpv4: r.static_ipv4,
  staticIpv6: r.static_ipv6, delegatedIpv6Prefix: r.delegated_ipv6_prefix, ipv6PdSize: r.ipv6_pd_size, ipv6AssignmentMode: r.ipv6_assignment_mode,
  ipv4Pool: r.ipv4_pool, ipv6Pool: r.ipv6_pool, ipv6PdPool: r.ipv6_pd_pool, metadata: r.metadata,
  createdAt: r.created_at, updatedAt: r.updated_at, deletedAt: r.deleted_at,
});

/**
 * The handler's upsertProfile with every config field given (a subscriber's profile from its
 * order), as one plain statement: the same row upsertProfile would write.
 */
export async function storeProfile(tx: Tx, tenantId: string, subscriberId: string, c: FiberNetworkConfig, metadata: Record<string, string>, id: string): Promise<ProfileRow> {
  const [row] = await clientOf(tx)<RawRow[]>`
    insert into profile.subscriber_network_profiles as p
      (id, tenant_id, subscriber_id, service_vlan, inner_vlan, qinq_enabled, vlan_pool, circuit_id, remote_id, option82_policy, static_ipv4, static_ipv6,
       delegated_ipv6_prefix, ipv6_pd_size, ipv6_assignment_mode, ipv4_pool, ipv6_pool, ipv6_pd_pool, metadata, updated_at, deleted_at)
    values (${id}, ${tenantId}, ${subscriberId}, ${c.service_vlan}, ${c.inner_vlan}, ${c.qinq_enabled}, ${c.vlan_pool}, ${c.circuit_id}, ${c.remote_id},
            ${c.option82_policy}, ${c.static_ipv4}, ${c.static_ipv6}, ${c.delegated_ipv6_prefix}, ${c.ipv6_pd_size}, ${c.ipv6_assignment_mode},
            ${c.ipv4_pool}, ${c.ipv6_pool}, ${c.ipv6_pd_pool}, ${JSON.stringify(metadata)}::jsonb, now(), null)
    on conflict (tenant_id, subscriber_id) do update set
      service_vlan = excluded.service_vlan, inner_vlan = excluded.inner_vlan, qinq_enabled = excluded.qinq_enabled, vlan_pool = excluded.vlan_pool,
      circuit_id = excluded.circuit_id, remote_id = excluded.remote_id, option82_policy = excluded.option82_policy, static_ipv4 = excluded.static_ipv4,
      static_ipv6 = excluded.static_ipv6, delegated_ipv6_prefix = excluded.delegated_ipv6_prefix, ipv6_pd_size = excluded.ipv6_pd_size,
      ipv6_assignment_mode = excluded.ipv6_assignment_mode, ipv4_pool = excluded.ipv4_pool, ipv6_pool = excluded.ipv6_pool,
      ipv6_pd_pool = excluded.ipv6_pd_pool, metadata = excluded.metadata, updated_at = now(), deleted_at = null
    returning *`;
  if (!row) throw new Error(`upsert of the network profile of ${subscriberId} returned no row`);
  return fromRaw(row);
}

/** Writes dynamically allocated IPs to the live profile; null when there is none. */
export async function writebackIps(db: Executor, tenantId: string, subscriberId: string, ips: IpWriteback): Promise<ProfileRow | null> {
  const [row] = await clientOf(db)<RawRow[]>`
    update profile.subscriber_network_profiles
       set static_ipv4 = ${ips.static_ipv4}, static_ipv6 = ${ips.static_ipv6}, delegated_ipv6_prefix = ${ips.delegated_ipv6_prefix}, updated_at = now()
     where tenant_id = ${tenantId} and subscriber_id = ${subscriberId} and deleted_at is null
    returning *`;
  return row ? fromRaw(row) : null;
}

/** Sets deleted_at on the live profile, keeping VLANs, IPs and Option 82 for audit; null when there is none. */
export async function softDelete(db: Executor, tenantId: string, subscriberId: string, at: Date = new Date()): Promise<ProfileRow | null> {
  const rows = await db
    .update(p)
    .set({ deletedAt: at, updatedAt: at })
    .where(and(ofSubscriber(tenantId, subscriberId), isNull(p.deletedAt)))
    .returning();
  return rows[0] ?? null;
}

/** The subscriber's profile; a soft-deleted one only with includeDeleted. */
export async function getBySubscriber(
  db: Executor,
  tenantId: string,
  subscriberId: string,
  opts: { readonly includeDeleted?: boolean } = {},
): Promise<ProfileRow | null> {
  const where = opts.includeDeleted ? ofSubscriber(tenantId, subscriberId) : and(ofSubscriber(tenantId, subscriberId), isNull(p.deletedAt));
  const rows = await db.select().from(p).where(where);
  return rows[0] ?? null;
}

/** The profiles (soft-deleted ones too) of these subscribers, in one statement: tenant\0subscriber → row. */
export async function profilesOf(db: Executor, keys: ReadonlyArray<{ readonly tenant_id: string; readonly subscriber_id: string }>): Promise<Map<string, ProfileRow>> {
  const out = new Map<string, ProfileRow>();
  if (keys.length === 0) return out;
  const wanted = new Set(keys.map(keyString));
  const rows = await db
    .select()
    .from(p)
    .where(and(inArray(p.subscriberId, [...new Set(keys.map((k) => k.subscriber_id))]), inArray(p.tenantId, [...new Set(keys.map((k) => k.tenant_id))])));
  for (const r of rows) {
    const ks = keyString({ tenant_id: r.tenantId, subscriber_id: r.subscriberId });
    if (wanted.has(ks)) out.set(ks, r);
  }
  return out;
}

/** The live QinQ profiles holding any of these (tenant, S-VLAN, C-VLAN) pairs, in one statement. */
export async function qinqPairHolders(
  db: Executor,
  pairs: ReadonlyArray<{ readonly tenantId: string; readonly serviceVlan: number; readonly innerVlan: number }>,
): Promise<Array<{ tenantId: string; serviceVlan: number; innerVlan: number; subscriberId: string }>> {
  if (pairs.length === 0) return [];
  // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
  // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
  const rows = await db.execute<{ tenant_id: string; service_vlan: number; inner_vlan: number; subscriber_id: string }>(dsql`
    select p.tenant_id, p.service_vlan, p.inner_vlan, p.subscriber_id
      from jsonb_to_recordset(${JSON.stringify(pairs.map((x) => ({ tenant_id: x.tenantId, service_vlan: x.serviceVlan, inner_vlan: x.innerVlan })))}::jsonb)
        as k(tenant_id text, service_vlan int, inner_vlan int)
      cross join lateral (
        select * from ${p} p
         where p.tenant_id = k.tenant_id and p.service_vlan = k.service_vlan and p.inner_vlan = k.inner_vlan
           and p.qinq_enabled and p.deleted_at is null and p.service_vlan is not null and p.inner_vlan is not null
        offset 0) p`);
  return rows.map((r) => ({ tenantId: r.tenant_id, serviceVlan: r.service_vlan, innerVlan: r.inner_vlan, subscriberId: r.subscriber_id }));
}

/** Another live subscriber of the tenant whose QinQ profile holds the (S-VLAN, C-VLAN) pair. */
export async function qinqPairOwner(db: Executor, tenantId: string, serviceVlan: number, innerVlan: number, exceptSubscriber: string): Promise<string | null> {
  const holders = await qinqPairHolders(db, [{ tenantId, serviceVlan, innerVlan }]);
  return holders.find((h) => h.subscriberId !== exceptSubscriber)?.subscriberId ?? null;
}
