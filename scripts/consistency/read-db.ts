// Reads what the checker compares from each service's own PostgreSQL schema (subscriber,
// profile, ipam, radius, olt, billing, projection: one database), in one repeatable-read,
// read-only transaction: every store as of the same moment.
import type { Sql } from "postgres";
import type { ProjectionDocument, Status } from "../../services/projection/fold.js";
import { viewFromStored, type StoredView, type SubscriberView } from "../../shared/subscriber-view.js";
import type { Family } from "./ips.js";
import type { RadiusRow, Stores } from "./model.js";

export interface Snapshot {
  readonly stores: Stores;
  readonly documents: readonly ProjectionDocument[];
  /** When the snapshot was taken (the database's clock). */
  readonly at: number;
}

/** Every tenant's rows when `tenant` is null. */
export async function readSnapshot(sql: Sql, tenant: string | null): Promise<Snapshot> {
  return sql.begin("isolation level repeatable read read only", async (tx) => {
    // Timestamps as milliseconds (float8) computed by PostgreSQL: a number whatever date parsing
    // the client has (drizzle replaces postgres.js's on the clients it wraps).
    const [clock] = await tx<{ now: number }[]>`select (extract(epoch from now()) * 1000)::float8 as now`;
    const subscribers = await tx<
      { tenant_id: string; subscriber_id: string; status: string; view: StoredView | SubscriberView; skipped_steps: string[]; pending_order: { order_id: string; order_type: string; stalled?: { step: string; code: string } } | null; last_progress_at: number }[]
    >`select tenant_id, subscriber_id::text as subscriber_id, status, view, skipped_steps, pending_order, (extract(epoch from last_progress_at) * 1000)::float8 as last_progress_at
        from subscriber.subscribers where ${tenant}::text is null or tenant_id = ${tenant}`;
    const profiles = await tx<{ tenant_id: string; subscriber_id: string; static_ipv4: string | null; static_ipv6: string | null; delegated_ipv6_prefix: string | null; deleted: boolean }[]>`
      select tenant_id, subscriber_id, static_ipv4, static_ipv6, delegated_ipv6_prefix, deleted_at is not null as deleted
        from profile.subscriber_network_profiles where ${tenant}::text is null or tenant_id = ${tenant}`;
    const allocations = await tx<{ tenant_id: string; subscriber_id: string; family: Family; address: string; allocated_at: number }[]>`
      select tenant_id, subscriber_id, family, address, (extract(epoch from allocated_at) * 1000)::float8 as allocated_at from ipam.allocations where ${tenant}::text is null or tenant_id = ${tenant}`;
    const freeListClashes = await tx<{ tenant_id: string; subscriber_id: string; family: Family; address: string; pool: string }[]>`
      select a.tenant_id, a.subscriber_id, a.family, a.address, p.name as pool
        from ipam.allocations a
        join ipam.released r on r.tenant_id = a.tenant_id and r.pool_id = a.pool_id and r.idx = a.idx
        join ipam.pools p on p.id = a.pool_id
       where ${tenant}::text is null or a.tenant_id = ${tenant}`;
    const accounts = await tx<{ tenant_id: string; subscriber_id: string; username: string; status: string; suspend_mode: string | null }[]>`
      select tenant_id, subscriber_id, username, status, suspend_mode from radius.accounts where ${tenant}::text is null or tenant_id = ${tenant}`;
    // radcheck's value is a password hash (or Auth-Type's Reject): never read.
    const radiusRows = await tx<RadiusRow[]>`
      select 'radcheck' as "table", tenant_id, username, attribute, null::text as value from radius.radcheck
       where tenant_id is not null and (${tenant}::text is null or tenant_id = ${tenant})
      union all
      select 'radreply', tenant_id, username, attribute, value from radius.radreply
       where tenant_id is not null and (${tenant}::text is null or tenant_id = ${tenant})
      union all
      select 'radusergroup', tenant_id, username, 'group', groupname from radius.radusergroup
       where tenant_id is not null and (${tenant}::text is null or tenant_id = ${tenant})`;
    const flows = await tx<{ tenant_id: string; subscriber_id: string; serial: string; onu_state: string | null }[]>`
      select f.tenant_id, f.subscriber_id, f.serial, o.state as onu_state
        from olt.service_flows f left join olt.onus o on o.tenant_id = f.tenant_id and o.serial = f.serial
       where ${tenant}::text is null or f.tenant_id = ${tenant}`;
    const billing = await tx<{ tenant_id: string; subscriber_id: string; service_id: string; status: string }[]>`
      select tenant_id, subscriber_id, service_id, status from billing.billing_services where ${tenant}::text is null or tenant_id = ${tenant}`;
    const documents = await tx<
      { tenant_id: string; subscriber_id: string; status: string; service_metadata: ProjectionDocument["service_metadata"]; timeline: ProjectionDocument["timeline"]; degraded_reasons: string[]; radius_coa: ProjectionDocument["radius_coa"] | null; service_plan_id: string | null; last_event_id: string }[]
    >`select tenant_id, subscriber_id, status, service_metadata, timeline, degraded_reasons, radius_coa, service_plan_id, last_event_id
        from projection.service_entities where ${tenant}::text is null or tenant_id = ${tenant}`;

    return {
      at: clock?.now ?? Date.now(),
      stores: {
        subscribers: subscribers.map((r) => {
          const view = viewFromStored(r.view);
          return {
            tenant_id: r.tenant_id,
            subscriber_id: r.subscriber_id,
            status: r.status,
            connection_type: view.connection_type,
            profile_skipped: r.skipped_steps.includes("profile"),
            pending: r.pending_order
              ? {
                  order_id: r.pending_order.order_id,
                  order_type: r.pending_order.order_type,
                  stalled: r.pending_order.stalled ? `${r.pending_order.stalled.step} (${r.pending_order.stalled.code})` : null,
                }
              : null,
            last_progress_at: r.last_progress_at,
          };
        }),
        profiles: profiles.map((r) => ({
          tenant_id: r.tenant_id,
          subscriber_id: r.subscriber_id,
          ips: { ipv4: r.static_ipv4, ipv6: r.static_ipv6, ipv6_pd: r.delegated_ipv6_prefix },
          deleted: r.deleted,
        })),
        allocations: [...allocations],
        freeListClashes: [...freeListClashes],
        accounts: [...accounts],
        radiusRows: [...radiusRows],
        flows: [...flows],
        billing: [...billing],
      },
      documents: documents.map((r) => ({ ...r, status: r.status as Status })),
    };
  });
}
