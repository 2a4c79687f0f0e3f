// service_entities access. Every query is scoped by tenant: one tenant never sees another's rows.
import { and, asc, eq, sql } from "drizzle-orm";
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

export async function saveDocument(db: Executor, doc: ProjectionDocument): Promise<void> {
  const values = {
    status: doc.status,
    serviceMetadata: doc.service_metadata,
    timeline: [...doc.timeline],
    degradedReasons: [...doc.degraded_reasons],
    radiusCoa: doc.radius_coa ?? null,
    servicePlanId: doc.service_plan_id ?? null,
    lastEventId: doc.last_event_id,
    updatedAt: new Date(),
  };
  await db
    .insert(serviceEntities)
    .values({ tenantId: doc.tenant_id, subscriberId: doc.subscriber_id, ...values })
    .onConflictDoUpdate({ target: [serviceEntities.tenantId, serviceEntities.subscriberId], set: values });
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

/** The documents of a batch's subscribers in one query, the changed ones saved in one. */
export const documentStore: StateStore<ProjectionDocument> = {
  async load(tx: Tx, keys) {
    const out = new Map<string, ProjectionDocument>();
    if (keys.length === 0) return out;
    const rows = await tx.execute<Row>(sql`
      select e.tenant_id, e.subscriber_id, e.status, e.service_metadata, e.timeline, e.degraded_reasons, e.radius_coa, e.service_plan_id, e.last_event_id
      from ${serviceEntities} e
      join jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) as k(tenant_id text, subscriber_id text)
        on e.tenant_id = k.tenant_id and e.subscriber_id = k.subscriber_id`);
    for (const r of rows) {
      out.set(keyString(r), {
        tenant_id: r.tenant_id,
        subscriber_id: r.subscriber_id,
        status: r.status as Status,
        service_metadata: r.service_metadata,
        timeline: r.timeline,
        degraded_reasons: r.degraded_reasons,
        radius_coa: r.radius_coa,
        service_plan_id: r.service_plan_id,
        last_event_id: r.last_event_id,
      });
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
