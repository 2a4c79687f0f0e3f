// service_entities access. Every query is scoped by tenant: one tenant never sees another's rows.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import { keyString, type StateStore } from "../../../shared/reactor.js";
import type { ProjectionDocument, Status } from "../fold.js";
import { serviceEntities } from "./schema.js";

type Executor = Db | Tx;

const toDocument = (row: typeof serviceEntities.$inferSelect): ProjectionDocument => ({
  tenant_id: row.tenantId,
  subscriber_id: row.subscriberId,
  status: row.status as Status,
  service_metadata: row.serviceMetadata,
  timeline: row.timeline,
  degraded_reasons: row.degradedReasons,
  radius_coa: row.radiusCoa,
  service_plan_id: row.servicePlanId,
  last_event_id: row.lastEventId,
});

export async function loadDocument(db: Executor, tenantId: string, subscriberId: string): Promise<ProjectionDocument | null> {
  const rows = await db
    .select()
    .from(serviceEntities)
    .where(and(eq(serviceEntities.tenantId, tenantId), eq(serviceEntities.subscriberId, subscriberId)));
  return rows[0] ? toDocument(rows[0]) : null;
}

export async function listDocuments(db: Executor, tenantId: string, opts: { status?: Status; limit: number; offset: number }): Promise<ProjectionDocument[]> {
  const where = opts.status
    ? and(eq(serviceEntities.tenantId, tenantId), eq(serviceEntities.status, opts.status))
    : eq(serviceEntities.tenantId, tenantId);
  const rows = await db.select().from(serviceEntities).where(where).orderBy(asc(serviceEntities.subscriberId)).limit(opts.limit).offset(opts.offset);
  return rows.map(toDocument);
}

type Row = {
  tenant_id: string;
  subscriber_id: string;
  status: string;
  service_metadata: ProjectionDocument["service_metadata"];
  timeline: ProjectionDocument["timeline"];
  degraded_reasons: ProjectionDocument["degraded_reasons"];
  radius_coa: ProjectionDocument["radius_coa"] | null;
  service_plan_id: string | null;
  last_event_id: string;
};

/** The documents of a batch's subscribers in one query, the changed ones saved in one (the only writer). */
export const documentStore: StateStore<ProjectionDocument> = {
  async load(tx: Tx, keys) {
    const out = new Map<string, ProjectionDocument>();
    if (keys.length === 0) return out;
    const wanted = new Set(keys.map(keyString));
    const rows = await tx
      .select()
      .from(serviceEntities)
      .where(and(inArray(serviceEntities.tenantId, [...new Set(keys.map((k) => k.tenant_id))]), inArray(serviceEntities.subscriberId, keys.map((k) => k.subscriber_id))));
    for (const r of rows) {
      const doc = toDocument(r);
      const ks = keyString(doc);
      if (wanted.has(ks)) out.set(ks, doc);
    }
    return out;
  },
  async save(tx: Tx, changed) {
    const rows: Row[] = changed.map(({ state: d }) => ({
      tenant_id: d.tenant_id,
      subscriber_id: d.subscriber_id,
      status: d.status,
      service_metadata: d.service_metadata,
      timeline: d.timeline,
      degraded_reasons: d.degraded_reasons,
      radius_coa: d.radius_coa ?? null,
      service_plan_id: d.service_plan_id ?? null,
      last_event_id: d.last_event_id,
    }));
    await tx.execute(sql`
      insert into ${serviceEntities} (tenant_id, subscriber_id, status, service_metadata, timeline, degraded_reasons, radius_coa, service_plan_id, last_event_id)
      select x.tenant_id, x.subscriber_id, x.status, x.service_metadata, x.timeline, x.degraded_reasons, x.radius_coa, x.service_plan_id, x.last_event_id
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as x(tenant_id text, subscriber_id text, status text, service_metadata jsonb, timeline jsonb, degraded_reasons jsonb, radius_coa jsonb, service_plan_id text, last_event_id text)
      on conflict (tenant_id, subscriber_id) do update set
        status = excluded.status, service_metadata = excluded.service_metadata, timeline = excluded.timeline,
        degraded_reasons = excluded.degraded_reasons, radius_coa = excluded.radius_coa,
        service_plan_id = excluded.service_plan_id, last_event_id = excluded.last_event_id, updated_at = now()`);
  },
};
