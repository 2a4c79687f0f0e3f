// service_entities access. Every query is scoped by tenant: one tenant never sees another's rows.
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
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
