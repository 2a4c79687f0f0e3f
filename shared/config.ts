// Configuration comes from environment variables only, validated once at start-up.
// Every problem is reported at once, by variable name, so an operator fixes them in one go.
// A secret (a password) is never echoed in a problem line.
import { z } from "zod";
import { connectionProblems, hideSecrets } from "./connections.js";

const brokers = z
  .string()
  .min(1)
  .transform((s) => s.split(",").map((b) => b.trim()))
  .refine((list) => list.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), "expected host:port[,host:port...]");

const url = (protocols: readonly string[]) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, `expected a ${protocols.join(" or ")} URL`);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** Variables every service reads. */
export const baseConfigSchema = z.object({
  KAFKA_BROKERS: brokers.default(["127.0.0.1:9092"]),
  SCHEMA_REGISTRY_URL: url(["http:", "https:"]).default("http://127.0.0.1:8081/apis/ccompat/v7"),
  DATABASE_URL: url(["postgres:", "postgresql:"]).default("postgres://postgres@127.0.0.1:5432/fiber"),
  HTTP_PORT: int(0, 65535).default(0),
  HTTP_HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Attempts for a message whose handler keeps failing before it goes to the DLQ. */
  HANDLER_MAX_ATTEMPTS: int(1, 1000).default(10),
  HANDLER_BACKOFF_INITIAL_MS: int(1, 60_000).default(200),
  HANDLER_BACKOFF_MAX_MS: int(1, 600_000).default(30_000),
  /** Fallback interval at which the outbox relay looks for unpublished rows. */
  OUTBOX_POLL_MS: int(10, 60_000).default(1_000),
  CONSUMER_MAX_BATCH: int(1, 10_000).default(500),
  /** A record value larger than this goes to the DLQ as too-large before it is decoded. */
  CONSUMER_MAX_MESSAGE_BYTES: int(1024, 64 * 1024 * 1024).default(512 * 1024),
  /**
   * How long a subscriber's state changed only by events that caused nothing may stay in memory
   * before it is written (reactor.ts, deferred states); offsets are committed behind it.
   */
  STATE_FLUSH_MS: int(0, 600_000).default(10_000),
  /** Most deferred states held before they are written, whatever their age. */
  STATE_MAX_DEFERRED: int(0, 1_000_000).default(20_000),
  /** How long the group waits for a silent consumer (a crashed process) before giving its partitions away. */
  KAFKA_SESSION_TIMEOUT_MS: int(6_000, 300_000).default(30_000),
  /** How long a service trusts what it read of an operator token: a revocation takes effect within this. */
  ACCESS_TOKEN_CACHE_MS: int(0, 60_000).default(5_000),
  /** Suffix for consumer group ids, so a test run can use fresh groups. */
  KAFKA_GROUP_SUFFIX: z.string().default(""),
  /**
   * Static membership (group.instance.id, claimed per process in PostgreSQL: shared/membership.ts):
   * a process started again after a crash gets its partitions back at once, not after the session timeout.
   */
  KAFKA_STATIC_MEMBERSHIP: bool.default(true),
  // Secured connections (shared/connections.ts applies them; the combinations are checked by
  // connectionProblems). Unset: plaintext Kafka without authentication, a registry without it.
  /** SASL mechanism for Kafka: plain, scram-sha-256 or scram-sha-512 (needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD). */
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["plain", "scram-sha-256", "scram-sha-512"], { error: "expected plain, scram-sha-256 or scram-sha-512" }))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** TLS to the brokers: the system's CAs, or KAFKA_TLS_CA_FILE's. */
  KAFKA_TLS: bool.default(false),
  KAFKA_TLS_CA_FILE: z.string().optional(),
  /** A client certificate (mutual TLS): both files or neither. */
  KAFKA_TLS_CERT_FILE: z.string().optional(),
  KAFKA_TLS_KEY_FILE: z.string().optional(),
  /** HTTP basic authentication to the schema registry: both or neither. */
  SCHEMA_REGISTRY_USERNAME: z.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export const configHelpers = { brokers, url, int, bool };

/** Parses `env` with the base schema extended by a service's own variables. */
export function loadConfig<T extends z.ZodRawShape>(
  extra: T,
  env: Readonly<Record<string, string | undefined>> = process.env,
): z.infer<ReturnType<typeof baseConfigSchema.extend<T>>> {
  const schema = baseConfigSchema.extend(extra);
  // An empty variable means "not set": defaults apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  const problems = [
    ...(result.success
      ? []
      : result.error.issues.map((i) => {
          const name = i.path.join(".");
          const value = name in cleaned ? ` (got ${hideSecrets(name, cleaned[name] ?? "")})` : " (not set)";
          return `${name}: ${i.message}${value}`;
        })),
    // Combinations (a mechanism without its password, a certificate without its key) and files
    // that cannot be read, checked on the variables as given.
    ...connectionProblems(cleaned),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  return result.data;
}
