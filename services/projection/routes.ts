// HTTP read API, by tenant: a subscriber's document, and the tenant's subscribers by status.
// Another tenant's subscriber answers 404, exactly like a subscriber that does not exist.
import type { Db } from "../../shared/db.js";
import type { RouteHandler } from "../../shared/health.js";
import { statuses, type ProjectionDocument, type Status } from "./fold.js";
import { listDocuments, loadDocument } from "./store/entities.js";

const one = /^\/tenants\/([^/]+)\/subscribers\/([^/]+)\/service-metadata\/?$/;
const list = /^\/tenants\/([^/]+)\/subscribers\/?$/;

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

export function projectionRoutes(db: Db): RouteHandler {
  return async (req, url) => {
    const m1 = one.exec(url.pathname);
    const m2 = m1 ? null : list.exec(url.pathname);
    if (!m1 && !m2) return undefined;
    if (req.method !== "GET") return { status: 405, body: { error: "method not allowed" } };
    if (m1) {
      const doc = await loadDocument(db, decodeURIComponent(m1[1] ?? ""), decodeURIComponent(m1[2] ?? ""));
      return doc ? { status: 200, body: view(doc) } : { status: 404, body: { error: "subscriber not found" } };
    }
    const tenant = decodeURIComponent(m2?.[1] ?? "");
    const status = url.searchParams.get("status");
    if (status !== null && !isStatus(status)) return { status: 400, body: { error: `status must be one of ${statuses.join(", ")}` } };
    const limit = Number(url.searchParams.get("limit") ?? "100");
    const offset = Number(url.searchParams.get("offset") ?? "0");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(offset) || offset < 0) {
      return { status: 400, body: { error: "limit must be 1..1000 and offset >= 0" } };
    }
    const docs = await listDocuments(db, tenant, { ...(status ? { status } : {}), limit, offset });
    return { status: 200, body: { tenant_id: tenant, items: docs.map(view), limit, offset } };
  };
}
