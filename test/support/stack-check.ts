// globalSetup of the integration project: fail fast, with a clear message, when the stack is down.
import { connect } from "node:net";
import { testEnv } from "./env.js";

const reachable = (hostPort: string): Promise<boolean> =>
  new Promise((resolve) => {
    const [host, port] = hostPort.split(":");
    const s = connect({ host, port: Number(port), timeout: 2000 }, () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });

export default async function setup(): Promise<void> {
  const registry = new URL(testEnv.SCHEMA_REGISTRY_URL);
  const targets = {
    Kafka: testEnv.KAFKA_BROKERS.split(",")[0] ?? "",
    "schema registry": `${registry.hostname}:${registry.port || 80}`,
    PostgreSQL: `${new URL(testEnv.DATABASE_URL).hostname}:${new URL(testEnv.DATABASE_URL).port || 5432}`,
  };
  const down: string[] = [];
  for (const [name, target] of Object.entries(targets)) if (!(await reachable(target))) down.push(`${name} (${target})`);
  if (down.length > 0) {
    throw new Error(`Integration tests need the local stack; not reachable: ${down.join(", ")}. Run \`npm test\` (it starts the stack) or \`bash infra/stack.sh up\`.`);
  }
}
