// The error split of the consumer runner:
// - PoisonMessageError: the input can never succeed (undecodable, unknown, invalid): it goes to
//   the DLQ with its code and reason and the offset moves on.
// - anything else thrown by a handler is transient: retried with capped backoff, a bounded number
//   of times, then the message goes to the DLQ as retries-exhausted.
// A business outcome (an order that makes no sense, a pool that is empty) is neither: the
// decision emits a named failure event.

export type PoisonCode =
  | "not-avro"
  | "unknown-schema-id"
  | "unknown-record-type"
  | "incompatible-schema"
  | "undecodable"
  | "invalid"
  | "wrong-topic"
  | "too-large"
  | "retries-exhausted";

export class PoisonMessageError extends Error {
  constructor(
    readonly code: PoisonCode,
    message: string,
  ) {
    super(message);
    this.name = "PoisonMessageError";
  }
}

export const isPoison = (err: unknown): err is PoisonMessageError => err instanceof PoisonMessageError;

/**
 * A dependency that is away rather than input that is wrong: PostgreSQL unreachable, restarting
 * or refusing connections, a serialization failure or deadlock, Kafka or the registry not
 * answering. Such an error pauses the partition and is retried until it succeeds; it never
 * sends a message to the DLQ. Everything else that is not poison is "unknown": retried a bounded
 * number of times, then dead-lettered with its reason.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof DependencyUnavailable || credentialsRefused(err) !== undefined) return true;
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, errno, retriable, syscall } = e as { code?: unknown; name?: unknown; errno?: unknown; retriable?: unknown; syscall?: unknown };
    // PostgreSQL over its Unix socket (DATABASE_URL ...?host=/var/run/postgresql): while the
    // server is down its socket file is gone, and connecting fails with ENOENT, not ECONNREFUSED.
    // Only a connect: a file that is missing is no outage.
    if (code === "ENOENT" && syscall === "connect") return true;
    if (typeof code === "string") {
      // PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources,
      // 57 operator intervention (admin shutdown, cannot connect now, query canceled),
      // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available, 58 system error.
      if (/^(08|53|57|58)/.test(code) || code === "40001" || code === "40P01" || code === "55P03") return true;
      // Node / postgres.js network errors.
      if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED|CONNECT_TIMEOUT|UND_ERR_.*)$/.test(code)) return true;
    }
    if (typeof errno === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT)$/.test(errno)) return true;
    if (typeof name === "string") {
      // kafkajs marks what it considers retriable; connection and timeout errors are always so here.
      if (name.startsWith("KafkaJS") && (retriable === true || /Connection|Timeout|NumberOfRetries|BrokerNotFound/.test(name))) return true;
      if (name === "AbortError" || name === "TimeoutError") return true;
    }
    // fetch() to the schema registry: "fetch failed" with a network cause; a 5xx from it.
    if (e instanceof TypeError && e.message === "fetch failed") return true;
    const status = (e as { status?: unknown }).status;
    if (typeof status === "number" && status >= 500) return true;
  }
  return false;
}

/** An error while handling item `index` of a batch, so the runner can dead-letter that one item. */
export class ItemFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "ItemFailure";
  }
}

/** A dependency (the registry, ...) did not answer: transient by definition. */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: string,
    override readonly cause: unknown,
  ) {
    super(`${dependency} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "DependencyUnavailable";
  }
}

/**
 * A dependency refused our credentials: Kafka's SASL authentication failed, or the registry
 * answered 401 / 403. Waited for like an outage (credentials are often rotated on the server
 * first), never a reason to dead-letter an event or to exit; the start-up says so in its own
 * words (shared/service.ts).
 */
export class CredentialsRefused extends Error {
  constructor(
    readonly dependency: string,
    override readonly cause: unknown,
  ) {
    super(`${dependency} refused the credentials: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "CredentialsRefused";
  }
}

/** Which dependency refused our credentials, if that is what `err` (or one of its causes) says. */
export function credentialsRefused(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof CredentialsRefused) return e.dependency;
    if ((e as { name?: unknown }).name === "KafkaJSSASLAuthenticationError") return "kafka";
  }
  return undefined;
}
