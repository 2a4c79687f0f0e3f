// Connection settings for integration tests: the running local stack (infra/stack.sh writes
// .stack/stack.env), with PostgreSQL pointed at the test database.
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

function stackEnv(): Record<string, string> {
  const file = new URL("../../.stack/stack.env", import.meta.url);
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? "", m[2] ?? ""]),
  );
}

const fromStack = stackEnv();
const pick = (k: string, d: string): string => process.env[k] ?? fromStack[k] ?? d;

export const testEnv = {
  KAFKA_BROKERS: pick("KAFKA_BROKERS", "127.0.0.1:9092"),
  SCHEMA_REGISTRY_URL: pick("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"),
  // The services' own database: FreeRADIUS reads the radius schema there. Tests keep apart by
  // using fresh tenants, subscribers and orders per run.
  DATABASE_URL: pick("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fiber"),
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
  HANDLER_BACKOFF_INITIAL_MS: "50",
  HANDLER_BACKOFF_MAX_MS: "500",
  HANDLER_MAX_ATTEMPTS: "3",
  OUTBOX_POLL_MS: "200",
  KAFKA_SESSION_TIMEOUT_MS: "8000",
  // Deferred states are written often, so committed offsets (test/support/consumed.ts) follow soon.
  STATE_FLUSH_MS: "300",
} as const;

/**
 * The local broker's SASL/SCRAM listener (infra/kafka.sh writes it to .stack/stack.env; the
 * environment may name another), or undefined when the running stack has none.
 */
export function saslListener(): { brokers: string; username: string; password: string } | undefined {
  const [brokers, username, password] = ["STACK_KAFKA_SASL_BROKERS", "STACK_KAFKA_SASL_USERNAME", "STACK_KAFKA_SASL_PASSWORD"].map((k) => process.env[k] ?? fromStack[k]);
  return brokers && username && password ? { brokers, username, password } : undefined;
}

/** Fresh ids per test run: topics, groups and subjects never collide with another run. */
export const runId = (): string => `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
