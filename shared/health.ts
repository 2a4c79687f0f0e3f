// /healthz: the process is alive. /readyz: every readiness check passes (consumer joined its
// group, PostgreSQL answers, ...). Both answer JSON so an operator sees which check failed, and
// both are open: every other path goes to `routes`, which in a service checks the operator token.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type ReadinessCheck = () => boolean | Promise<boolean>;

/**
 * A check that has not answered after this long fails. While PostgreSQL is away, a query waits
 * behind postgres.js's reconnection backoff (up to 20 s): /readyz answers 503 at once instead of
 * leaving its caller (a probe, an operator) without an answer.
 */
export const checkTimeoutMs = 2_000;

async function within(check: ReadinessCheck, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([Promise.resolve().then(check), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Everything but /healthz and /readyz: in a service, the token check and then its routes (shared/access/guard.ts). */
export type RouteHandler = (req: IncomingMessage, url: URL) => Promise<Reply | undefined>;

export async function startHealthServer(
  host: string,
  port: number,
  checks: Readonly<Record<string, ReadinessCheck>>,
  routes?: RouteHandler,
  /** More to say on /readyz (what start-up waits for). */
  detail?: () => Record<string, unknown>,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://local");
    const reply = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}) => {
      res.writeHead(status, { ...headers, "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      if (url.pathname === "/healthz") return reply(200, { status: "ok" });
      if (url.pathname === "/readyz") {
        const results: Record<string, boolean> = {};
        for (const [name, check] of Object.entries(checks)) {
          try {
            results[name] = await within(check, checkTimeoutMs);
          } catch {
            results[name] = false;
          }
        }
        const ok = Object.values(results).every(Boolean);
        return reply(ok ? 200 : 503, { status: ok ? "ready" : "not ready", checks: results, ...detail?.() });
      }
      const routed = routes ? await routes(req, url) : undefined;
      if (routed) return reply(routed.status, routed.body, routed.headers);
      return reply(404, { error: "not found" });
    })().catch((err: unknown) => reply(500, { error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
