// All services as separate processes (as in production), on their fixed HTTP ports, ready when
// every /readyz answers 200.
import { servicePorts, startServices, type ServiceName } from "../../scripts/run-services.js";
import { testEnv } from "./env.js";
import { waitUntil } from "./kafka.js";
import { fetchAs } from "./tokens.js";

export const allServices = Object.keys(servicePorts) as ServiceName[];

export const serviceUrl = (name: ServiceName, path: string): string => `http://127.0.0.1:${servicePorts[name]}${path}`;

async function ready(name: ServiceName): Promise<boolean> {
  try {
    return (await fetch(serviceUrl(name, "/readyz"))).status === 200;
  } catch {
    return false;
  }
}

export async function startAll(names: readonly ServiceName[] = allServices, env: Record<string, string> = {}) {
  const running = startServices(names, { ...testEnv, ...env }, process.env.TEST_SERVICE_LOGS !== "1");
  for (const [name, child] of running.children) {
    child.once("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGTERM") console.error(`service ${name} exited (${code ?? signal})`);
    });
  }
  try {
    await waitUntil(
      async () => (await Promise.all(names.map(ready))).every(Boolean),
      120_000,
      () => "every service's /readyz",
    );
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

/** A route of a service, called with an operator token (test/support/tokens.ts). */
export async function getJson<T>(name: ServiceName, path: string, token: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetchAs(token, serviceUrl(name, path), init);
  return { status: res.status, body: (await res.json()) as T };
}
