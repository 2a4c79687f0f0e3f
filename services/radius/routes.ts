// Admin HTTP routes: the only way a subscriber's credentials reach the operator, each answer the
// only place a password appears (never logged, never in an event), behind the operator token.
//   GET  /tenants/:tenant/subscribers/:id/radius-credentials         the account's first password,
//        exactly once (then 410 Gone, with no password); held at most FIRST_PASSWORD_TTL_MS
//   POST /tenants/:tenant/subscribers/:id/radius-credentials/rotate  a new password, returned once
import type { ApiRoutes } from "../../shared/access/guard.js";
import { tenantRoutes } from "../../shared/access/tenant-routes.js";
import type { ServiceDeps } from "../../shared/service.js";
import { newCredential } from "./adapters/credentials.js";
import { replacePassword, takeFirstPassword, type FirstPassword } from "./store/store.js";

const notFound = "no active RADIUS account for this subscriber";
// A password answer is not kept by any cache on the way.
const noStore = { "cache-control": "no-store" };

const gone = (f: Extract<FirstPassword, { kind: "gone" }>): string => {
  const why = f.reason === "retrieved" ? "was already retrieved" : f.reason === "expired" ? "expired before it was retrieved" : f.reason === "rotated" ? "was replaced by a rotation" : "is not held for this account";
  return `the first password of ${f.username} ${why}; set a new one with POST .../radius-credentials/rotate`;
};

export function radiusRoutes(deps: Pick<ServiceDeps, "db" | "logger">, firstPasswordTtlMs: number): ApiRoutes {
  return tenantRoutes([
    {
      method: "GET",
      path: /^\/subscribers\/([^/]+)\/radius-credentials$/,
      notFound,
      handle: async ({ tenant, params: [subscriberId = ""], caller }) => {
        const log = deps.logger.child({ tenant_id: tenant, subscriber_id: subscriberId, token_id: caller.tokenId });
        const first = await takeFirstPassword(deps.db, tenant, subscriberId, firstPasswordTtlMs, caller.tokenId);
        switch (first.kind) {
          case "no-account":
            log.info("RADIUS first password asked for no active account of this tenant");
            return { status: 404, body: { error: notFound } };
          case "gone":
            log.info({ username: first.username, reason: first.reason }, "RADIUS first password asked for again: not held");
            return { status: 410, body: { error: gone(first), username: first.username, reason: first.reason } };
          case "password":
            log.info({ username: first.username }, "RADIUS first password retrieved (it is not held any more)");
            return { status: 200, body: { username: first.username, password: first.password }, headers: noStore };
          default:
            return first satisfies never;
        }
      },
    },
    {
      method: "POST",
      path: /^\/subscribers\/([^/]+)\/radius-credentials\/rotate$/,
      notFound,
      handle: async ({ tenant, params: [subscriberId = ""], caller }) => {
        const log = deps.logger.child({ tenant_id: tenant, subscriber_id: subscriberId, token_id: caller.tokenId });
        const credential = newCredential();
        const username = await replacePassword(deps.db, tenant, subscriberId, credential.check);
        if (!username) {
          log.info("RADIUS credentials rotation asked for no active account of this tenant");
          return { status: 404, body: { error: notFound } };
        }
        log.info({ username }, "RADIUS credentials rotated");
        return { status: 200, body: { username, password: credential.password }, headers: noStore };
      },
    },
  ]);
}
