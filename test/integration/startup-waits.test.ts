// A service whose registry is away when it starts waits for it (issue 8's fault run: it used to
// log a fatal line and exit): /readyz answers 503 and names what it waits for, and once the
// registry answers the service starts; a SIGTERM while it waits ends it cleanly. Real registry,
// reached through a TCP relay this test opens and closes.
import { createServer, connect as tcpConnect, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { servicePorts } from "../../scripts/run-services.js";
import { testEnv } from "../support/env.js";
import { waitUntil } from "../support/kafka.js";
import { startProcess, type Proc } from "../support/process.js";

const registry = new URL(testEnv.SCHEMA_REGISTRY_URL);
const relayPort = 18_981;
const httpPort = servicePorts.billing;
let relay: Server | undefined;
let proc: Proc | undefined;

const readyz = async (): Promise<{ status: number; body: { checks?: Record<string, boolean>; waiting_for?: string } } | null> => {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    return { status: r.status, body: (await r.json()) as { checks?: Record<string, boolean>; waiting_for?: string } };
  } catch {
    return null;
  }
};

function openRelay(): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = tcpConnect(Number(registry.port || 80), registry.hostname);
    socket.pipe(upstream).pipe(socket);
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  return new Promise((resolve) => server.listen(relayPort, "127.0.0.1", () => resolve(server)));
}

function startBilling(): Proc {
  const url = new URL(testEnv.SCHEMA_REGISTRY_URL);
  url.port = String(relayPort);
  return startProcess("services/billing/main.ts", { ...testEnv, HTTP_PORT: String(httpPort), SCHEMA_REGISTRY_URL: url.toString(), LOG_LEVEL: "warn" });
}

afterAll(async () => {
  proc?.child.kill("SIGKILL");
  await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
});

describe("a service started while the schema registry is away", () => {
  it("waits with /readyz 503 naming the registry, then starts once it answers", async () => {
    proc = startBilling();
    await waitUntil(async () => (await readyz())?.body.waiting_for === "schema registry", 60_000, () => `readyz to name the registry; output: ${proc?.output().slice(-2000)}`);
    const waiting = await readyz();
    expect(waiting?.status).toBe(503);
    expect(waiting?.body.checks?.started).toBe(false);
    // The first attempts fail and are retried: still alive, still waiting.
    await waitUntil(() => proc?.output().includes("schema registry unavailable at start-up; waiting for it") ?? false, 60_000, () => `a retry; output: ${proc?.output().slice(-2000)}`);
    expect(proc.child.exitCode).toBeNull();
    expect((await readyz())?.status).toBe(503);

    relay = await openRelay();
    await waitUntil(async () => (await readyz())?.status === 200, 60_000, () => `billing to become ready; output: ${proc?.output().slice(-2000)}`);
    proc.child.kill("SIGTERM");
    expect((await proc.exited).code).toBe(0);
    proc = undefined;
  }, 150_000);

  it("stops cleanly on SIGTERM while it waits", async () => {
    if (proc) {
      proc.child.kill("SIGKILL");
      await proc.exited;
    }
    await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
    relay = undefined;
    proc = startBilling();
    await waitUntil(async () => (await readyz())?.body.waiting_for === "schema registry", 60_000, () => `readyz to name the registry; output: ${proc?.output().slice(-2000)}`);
    proc.child.kill("SIGTERM");
    expect((await proc.exited).code).toBe(0);
    proc = undefined;
  }, 150_000);
});
