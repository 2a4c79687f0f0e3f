// All-in-one mode: every service in one Node process, for a small ISP and for the demo. Each
// service keeps its own consumer group, PostgreSQL schema, outbox relay and HTTP port, exactly as
// when it runs alone, so moving a service out to its own process (or machine) later changes
// nothing but where it runs. SIGTERM / SIGINT stop them all gracefully, the consumers first.
//   node dist/scripts/all-in-one.js            (npm run services -- --all-in-one)
// ALL_IN_ONE_SERVICES=ipam,radius limits it to some services.
import { fileURLToPath } from "node:url";
import { definition as billing } from "../services/billing/service.js";
import { definition as ipam } from "../services/ipam/service.js";
import { definition as olt } from "../services/olt/service.js";
import { definition as profile } from "../services/profile/service.js";
import { definition as projection } from "../services/projection/service.js";
import { definition as radius } from "../services/radius/service.js";
import { definition as subscriber } from "../services/subscriber/service.js";
import { createLogger } from "../shared/logger.js";
import { onParentGone } from "../shared/parent.js";
import { runService, StartupAbandoned, type RunningService } from "../shared/service.js";
import { servicePorts, type ServiceName } from "./run-services.js";

const definitions = { subscriber, profile, ipam, radius, olt, billing, projection } as const satisfies Record<ServiceName, unknown>;

/** Starts every service (or the named ones) in this process; HTTP ports from `ports` unless HTTP_PORT_<NAME> is set. */
export async function startAllInOne(
  env: Readonly<Record<string, string | undefined>> = process.env,
  names: readonly ServiceName[] = Object.keys(definitions) as ServiceName[],
  ports: Readonly<Record<ServiceName, number>> = servicePorts,
  /** Aborted: a start-up waiting for a dependency gives up (StartupAbandoned), and what started stops. */
  signal?: AbortSignal,
): Promise<{ services: ReadonlyMap<ServiceName, RunningService>; stop(): Promise<void> }> {
  const services = new Map<ServiceName, RunningService>();
  const stop = async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
  };
  try {
    // One at a time: start-up registers schemas and runs migrations; in parallel they only contend.
    for (const name of names) {
      const port = env[`HTTP_PORT_${name.toUpperCase()}`] ?? String(ports[name]);
      const svc = await runService(definitions[name]() as Parameters<typeof runService>[0], { ...env, HTTP_PORT: port }, signal ? { signal } : {});
      services.set(name, svc as unknown as RunningService);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { services, stop };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const log = createLogger("all-in-one");
  let running: Awaited<ReturnType<typeof startAllInOne>> | undefined;
  let stopping: string | undefined;
  const starting = new AbortController();
  // A signal during start-up: a service waiting for a dependency gives up (and those up stop);
  // otherwise the services stop once they are up.
  const shutdown = (why: string) => {
    stopping ??= why;
    const r = running;
    if (!r) {
      starting.abort();
      return;
    }
    running = undefined;
    log.info({ signal: why }, "stopping every service");
    r.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => shutdown(sig));
  // Started by a launcher: stop when it is gone.
  onParentGone(() => shutdown("launcher gone"));
  const only = (process.env.ALL_IN_ONE_SERVICES ?? "").split(",").filter(Boolean) as ServiceName[];
  startAllInOne(process.env, only.length > 0 ? only : undefined, servicePorts, starting.signal).then(
    (r) => {
      running = r;
      log.info({ services: [...r.services.keys()] }, "all services started in one process");
      if (stopping) shutdown(stopping);
    },
    (err: unknown) => {
      if (err instanceof StartupAbandoned) {
        log.info({ signal: stopping }, err.message);
        process.exit(0);
      }
      log.fatal({ err }, err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
