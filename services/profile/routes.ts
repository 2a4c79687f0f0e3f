// HTTP: GET /tenants/:tenant/subscribers/:id/network-profile[?include_deleted=true]. Another
// tenant's subscriber answers 404, exactly like one that does not exist.
import type { Db } from "../../shared/db.js";
import type { RouteHandler } from "../../shared/health.js";
import { configOf, getBySubscriber, type ProfileRow } from "./store/profiles.js";

const path = /^\/tenants\/([^/]+)\/subscribers\/([^/]+)\/network-profile\/?$/;

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

export function profileRoutes(db: Db): RouteHandler {
  return async (req, url) => {
    const m = path.exec(url.pathname);
    if (!m) return undefined;
    if (req.method !== "GET") return { status: 405, body: { error: "method not allowed" } };
    const includeDeleted = url.searchParams.get("include_deleted") === "true";
    const row = await getBySubscriber(db, decodeURIComponent(m[1] ?? ""), decodeURIComponent(m[2] ?? ""), { includeDeleted });
    return row ? { status: 200, body: profileBody(row) } : { status: 404, body: { error: "network profile not found" } };
  };
}
