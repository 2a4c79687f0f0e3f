// /readyz answers even when a readiness check hangs (PostgreSQL away: a query waits behind the
// driver's reconnection backoff): that check counts as failed after checkTimeoutMs.
import { afterEach, expect, it } from "vitest";
import { checkTimeoutMs, startHealthServer, type HealthServer } from "../../shared/health.js";

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it("answers 503 with the hanging check false, within the check's time limit", async () => {
  server = await startHealthServer("127.0.0.1", 0, { started: () => true, postgres: () => new Promise<boolean>(() => undefined) });
  const res = await fetch(`http://127.0.0.1:${server.port}/readyz`, { signal: AbortSignal.timeout(checkTimeoutMs + 3_000) });
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ status: "not ready", checks: { started: true, postgres: false } });
});

it("answers 200 when every check passes in time", async () => {
  server = await startHealthServer("127.0.0.1", 0, { started: () => true, postgres: async () => true });
  expect((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status).toBe(200);
});
