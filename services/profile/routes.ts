// HTTP: GET /tenants/:tenant/subscribers/:id/network-profile[?include_deleted=true]. Another
// tenant's subscriber, or a tenant the caller's token does not cover, answers 404, exactly like
// one that does not exist.
import type { ApiRoutes } from "../../shared/access/guard.js";
import { tenantRoutes } from "../../shared/access/tenant-routes.js";
import type { Db } from "../../shared/db.js";
import { configOf, getBySubscriber, type ProfileRow } from "./store/profiles.js";

const notFound = "network profile not found";

export const profileBody = (r: ProfileRow) => ({
  network_profile_id: r.id,
  tenant_id: r.tenantId,
  subscriber_id: r.subscriberId,
  ...configOf(r),
  metadata: r.metadata,
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
  deleted_at: r.deletedAt?.toISOString() ?? null,
});

export function profileRoutes(db: Db): ApiRoutes {
  return tenantRoutes([
    {
      method: "GET",
      path: /^\/subscribers\/([^/]+)\/network-profile\/?$/,
      notFound,
      handle: async ({ tenant, params: [subscriberId = ""], url }) => {
        const includeDeleted = url.searchParams.get("include_deleted") === "true";
        const row = await getBySubscriber(db, tenant, subscriberId, { includeDeleted });
        return row ? { status: 200, body: profileBody(row) } : { status: 404, body: { error: notFound } };
      },
    },
  ]);
}
