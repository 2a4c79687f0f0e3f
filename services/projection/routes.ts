// HTTP read API, by tenant: a subscriber's document, and the tenant's subscribers by status.
// Another tenant's subscriber answers 404, exactly like a subscriber that does not exist; so do
// both routes for a tenant the caller's token does not cover (the list cannot be enumerated).
import type { ApiRoutes } from "../../shared/access/guard.js";
import { tenantRoutes } from "../../shared/access/tenant-routes.js";
import type { Db } from "../../shared/db.js";
import { statuses, type ProjectionDocument, type Status } from "./fold.js";
import { listDocuments, loadDocument } from "./store/entities.js";

const notFound = "subscriber not found";

// jsonb keeps keys in its own order; answer in the seed's order, which readers expect to see.
const inSeedOrder = ({ network_profile: np, allocated_ips: ips, devices, radius }: ProjectionDocument["service_metadata"]) => ({
  network_profile: np && {
    network_profile_id: np.network_profile_id,
    service_vlan: np.service_vlan,
    inner_vlan: np.inner_vlan,
    qinq_enabled: np.qinq_enabled,
    ipv6_assignment_mode: np.ipv6_assignment_mode,
  },
  allocated_ips: ips && { ipv4: ips.ipv4, ipv6: ips.ipv6, ipv6_prefix: ips.ipv6_prefix, source: ips.source },
  devices: { onu_id: devices.onu_id, cpe_id: devices.cpe_id },
  radius: { username: radius.username },
});

const view = (d: ProjectionDocument) => ({
  tenant_id: d.tenant_id,
  subscriber_id: d.subscriber_id,
  status: d.status,
  service_metadata: inSeedOrder(d.service_metadata),
  // Next to service_metadata (whose shape stays the seed's), once a CoA / Disconnect happened.
  ...(d.radius_coa ? { radius_coa: d.radius_coa } : {}),
  timeline: d.timeline,
  degraded_reasons: d.degraded_reasons,
});

const isStatus = (s: string): s is Status => (statuses as readonly string[]).includes(s);

export function projectionRoutes(db: Db): ApiRoutes {
  return tenantRoutes([
    {
      method: "GET",
      path: /^\/subscribers\/([^/]+)\/service-metadata\/?$/,
      notFound,
      handle: async ({ tenant, params: [subscriberId = ""] }) => {
        const doc = await loadDocument(db, tenant, subscriberId);
        return doc ? { status: 200, body: view(doc) } : { status: 404, body: { error: notFound } };
      },
    },
    {
      method: "GET",
      path: /^\/subscribers\/?$/,
      notFound,
      handle: async ({ tenant, url }) => {
        const status = url.searchParams.get("status");
        if (status !== null && !isStatus(status)) return { status: 400, body: { error: `status must be one of ${statuses.join(", ")}` } };
        const limit = Number(url.searchParams.get("limit") ?? "100");
        const offset = Number(url.searchParams.get("offset") ?? "0");
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(offset) || offset < 0) {
          return { status: 400, body: { error: "limit must be 1..1000 and offset >= 0" } };
        }
        const docs = await listDocuments(db, tenant, { ...(status ? { status } : {}), limit, offset });
        return { status: 200, body: { tenant_id: tenant, items: docs.map(view), limit, offset } };
      },
    },
  ]);
}
