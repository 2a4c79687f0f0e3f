// Every HTTP request but /healthz and /readyz (answered by shared/health.ts before any route)
// passes here: no valid operator token, 401; otherwise the service's routes run with the caller.
// Token records are cached per process for a few seconds, so a revocation takes effect within
// ACCESS_TOKEN_CACHE_MS and a request costs no database read while its token is cached.
import type { IncomingMessage } from "node:http";
import { isTransient } from "../errors.js";
import type { Reply, RouteHandler } from "../health.js";
import type { Logger } from "../logger.js";
import { checkToken, presentedToken, type Caller, type TokenRecord, type Verdict } from "./tokens.js";

/** A service's routes, called only for an authenticated caller. */
export type ApiRoutes = (req: IncomingMessage, url: URL, caller: Caller) => Promise<Reply | undefined>;

export interface TokenCacheOptions {
  readonly ttlMs: number;
  /** Most token ids remembered (unknown ones too, so a flood of made-up tokens costs no reads). */
  readonly max?: number;
  readonly now?: () => number;
}

/**
 * `load` behind a cache of `ttlMs` per token id: concurrent requests with one token share one
 * read, and a failed read is not remembered.
 */
export function tokenCache(load: (id: string) => Promise<TokenRecord | null>, options: TokenCacheOptions): (id: string) => Promise<TokenRecord | null> {
  const now = options.now ?? Date.now;
  const max = options.max ?? 10_000;
  const entries = new Map<string, { readonly at: number; readonly value: Promise<TokenRecord | null> }>();
  return (id) => {
    const hit = entries.get(id);
    if (hit && now() - hit.at < options.ttlMs) return hit.value;
    entries.delete(id);
    const value = load(id);
    entries.set(id, { at: now(), value });
    value.catch(() => {
      if (entries.get(id)?.value === value) entries.delete(id);
    });
    // Map keeps insertion order: the first key is the one read longest ago.
    while (entries.size > max) entries.delete(entries.keys().next().value as string);
    return value;
  };
}

/** The verdict on an Authorization header. */
export function authenticator(lookup: (id: string) => Promise<TokenRecord | null>, now: () => Date = () => new Date()): (authorization: string | undefined) => Promise<Verdict> {
  return async (authorization) => {
    const presented = presentedToken(authorization);
    if (!presented.ok) return presented;
    return checkToken(await lookup(presented.id), presented.token, now());
  };
}

const challenge = { "www-authenticate": 'Bearer realm="fiber-provisioning"' };

/** The service's routes behind the token check. A service without routes still answers 401 to a request without a token. */
export function guardRoutes(routes: ApiRoutes | undefined, authenticate: (authorization: string | undefined) => Promise<Verdict>, logger: Logger): RouteHandler {
  return async (req, url) => {
    const request = { method: req.method, path: url.pathname };
    let verdict: Verdict;
    try {
      verdict = await authenticate(req.headers.authorization);
    } catch (err) {
      if (!isTransient(err)) throw err;
      logger.warn({ ...request, err: err instanceof Error ? err.message : String(err) }, "token store unavailable: request refused");
      return { status: 503, body: { error: "the token store is unavailable; try again" } };
    }
    if (!verdict.ok) {
      // The id part of a well-formed token may be logged; the token never is.
      const id = presentedToken(req.headers.authorization);
      logger.info({ ...request, reason: verdict.reason, ...(id.ok ? { token_id: id.id } : {}) }, "request refused: no valid operator token");
      return { status: 401, body: { error: "a valid operator token is required: Authorization: Bearer <token>", reason: verdict.reason }, headers: challenge };
    }
    logger.debug({ ...request, token_id: verdict.caller.tokenId }, "authenticated request");
    return routes ? routes(req, url, verdict.caller) : undefined;
  };
}
