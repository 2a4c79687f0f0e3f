// HTTP read side: GET /tenants/:tenant/subscribers/:id → the subscriber, or 404 (also when the
// subscriber belongs to another tenant, or the caller's token is for another tenant).
import type { ApiRoutes } from "../../shared/access/guard.js";
import { tenantRoutes } from "../../shared/access/tenant-routes.js";
import type { Db } from "../../shared/db.js";
import type { Reply } from "../../shared/health.js";
import { phaseOf, viewFromStored } from "../../shared/subscriber-view.js";
import type { SubscriberDeps } from "./service.js";
import { findSubscriber } from "./store/subscribers.js";

const notFound = "subscriber not found";

async function subscriber(db: Db, tenant: string, id: string): Promise<Reply> {
  const row = await findSubscriber(db, tenant, id);
  if (!row) return { status: 404, body: { error: notFound } };
  const view = viewFromStored(row.view);
  const { progress } = view;
  return {
    status: 200,
    body: {
      tenant_id: row.tenantId,
      subscriber_id: row.subscriberId,
      subscriber_number: row.subscriberNumber,
      order_id: row.orderId,
      crm_reference: row.crmReference,
      status: row.status,
      phase: phaseOf(view),
      order_in_flight: row.pendingOrder ? { order_id: row.pendingOrder.order_id, order_type: row.pendingOrder.order_type } : null,
      service_plan_id: view.service_plan_id,
      bandwidth_mbps: view.bandwidth_mbps,
      connection_type: view.connection_type,
      progress: { succeeded: progress.succeeded, compensated: progress.compensated, failure: progress.failure },
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    },
  };
}

export function routes({ db }: SubscriberDeps): ApiRoutes {
  return tenantRoutes([{ method: "GET", path: /^\/subscribers\/([^/]+)\/?$/, notFound, handle: ({ tenant, params: [id = ""] }) => subscriber(db, tenant, id) }]);
}
