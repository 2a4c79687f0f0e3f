// Admin HTTP route: the only way a subscriber's credentials reach the operator.
// POST /tenants/:tenant/subscribers/:id/radius-credentials rotates the password and returns it
// once; the reply is the only place it appears (never logged, never in an event).
import type { RouteHandler } from "../../shared/health.js";
import type { ServiceDeps } from "../../shared/service.js";
import { newCredential } from "./adapters/credentials.js";
import { replacePassword } from "./store/store.js";

const credentialsPath = /^\/tenants\/([^/]+)\/subscribers\/([^/]+)\/radius-credentials$/;

export function radiusRoutes(deps: Pick<ServiceDeps, "db" | "logger">): RouteHandler {
  return async (req, url) => {
    const match = credentialsPath.exec(url.pathname);
    if (!match) return undefined;
    if (req.method !== "POST") return { status: 405, body: { error: "use POST" } };
    const tenantId = decodeURIComponent(match[1] ?? "");
    const subscriberId = decodeURIComponent(match[2] ?? "");
    const credential = newCredential();
    const username = await replacePassword(deps.db, tenantId, subscriberId, credential.check);
    const log = deps.logger.child({ tenant_id: tenantId, subscriber_id: subscriberId });
    if (!username) {
      log.info("RADIUS credentials requested for no active account of this tenant");
      return { status: 404, body: { error: "no active RADIUS account for this subscriber" } };
    }
    log.info({ username }, "RADIUS credentials rotated");
    return { status: 200, body: { username, password: credential.password } };
  };
}
