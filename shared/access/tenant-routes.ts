// A service's routes as a table under /tenants/:tenant/. The tenant is checked against the
// caller's token here, once, before any route runs: a tenant the token does not cover answers
// the route's own "not found", exactly what a subscriber that does not exist gets, so a token of
// one tenant learns nothing of another (not even whether it exists).
import type { IncomingMessage } from "node:http";
import type { Reply } from "../health.js";
import type { ApiRoutes } from "./guard.js";
import { mayAccess, type Caller } from "./tokens.js";

export interface TenantRequest {
  readonly tenant: string;
  /** The route pattern's capture groups, URI-decoded. */
  readonly params: readonly string[];
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly caller: Caller;
}

export interface TenantRoute {
  readonly method: "GET" | "POST";
  /** The path after /tenants/:tenant, e.g. /^\/subscribers\/([^/]+)\/?$/. */
  readonly path: RegExp;
  /** What the route answers for a subscriber (or pool, ...) that does not exist. */
  readonly notFound: string;
  handle(r: TenantRequest): Promise<Reply>;
}

const tenantPath = /^\/tenants\/([^/]+)(\/.*)?$/;

const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

export function tenantRoutes(routes: readonly TenantRoute[]): ApiRoutes {
  return async (req, url, caller) => {
    const m = tenantPath.exec(url.pathname);
    const tenant = m ? decode(m[1] ?? "") : undefined;
    if (!m || tenant === undefined) return undefined;
    const rest = m[2] ?? "";
    const matching = routes.flatMap((route) => {
      const params = route.path.exec(rest)?.slice(1).map((p) => decode(p ?? ""));
      return params && params.every((p) => p !== undefined) ? [{ route, params: params as string[] }] : [];
    });
    const first = matching[0];
    if (!first) return undefined;
    if (!mayAccess(caller, tenant)) return { status: 404, body: { error: first.route.notFound } };
    const chosen = matching.find((r) => r.route.method === req.method);
    if (!chosen) {
      const allow = [...new Set(matching.map((r) => r.route.method))].join(", ");
      return { status: 405, body: { error: `method not allowed: use ${allow}` }, headers: { allow } };
    }
    return chosen.route.handle({ tenant, params: chosen.params, url, req, caller });
  };
}
