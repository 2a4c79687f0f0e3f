// Secured connections to Kafka (SASL, TLS), the schema registry (basic authentication) and
// PostgreSQL (libpq's sslmode, sslrootcert, sslcert, sslkey in DATABASE_URL): the rules their
// variables must follow, checked with the rest of the configuration, and the client options built
// from them. Every Kafka, registry and PostgreSQL client is made from these (shared/kafka.ts
// createKafka, shared/codec.ts createCodec, shared/db.ts), so no script can forget one.
import { accessSync, constants, readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { SASLOptions } from "kafkajs";

/** The configuration a Kafka client is made from (a BaseConfig has it). */
export interface KafkaSettings {
  readonly KAFKA_BROKERS: readonly string[];
  readonly KAFKA_SASL_MECHANISM?: "plain" | "scram-sha-256" | "scram-sha-512" | undefined;
  readonly KAFKA_SASL_USERNAME?: string | undefined;
  readonly KAFKA_SASL_PASSWORD?: string | undefined;
  readonly KAFKA_TLS?: boolean | undefined;
  readonly KAFKA_TLS_CA_FILE?: string | undefined;
  readonly KAFKA_TLS_CERT_FILE?: string | undefined;
  readonly KAFKA_TLS_KEY_FILE?: string | undefined;
}

/** The configuration a registry client is made from (a BaseConfig has it). */
export interface RegistrySettings {
  readonly SCHEMA_REGISTRY_URL: string;
  readonly SCHEMA_REGISTRY_USERNAME?: string | undefined;
  readonly SCHEMA_REGISTRY_PASSWORD?: string | undefined;
}

/** kafkajs's `ssl` and `sasl` options. With a CA file, only that CA is trusted; without, the system's. */
export function kafkaSecurity(s: KafkaSettings): { ssl?: boolean | ConnectionOptions; sasl?: SASLOptions } {
  const out: { ssl?: boolean | ConnectionOptions; sasl?: SASLOptions } = {};
  if (s.KAFKA_TLS) {
    const files = {
      ...(s.KAFKA_TLS_CA_FILE ? { ca: [readFileSync(s.KAFKA_TLS_CA_FILE)] } : {}),
      ...(s.KAFKA_TLS_CERT_FILE && s.KAFKA_TLS_KEY_FILE ? { cert: readFileSync(s.KAFKA_TLS_CERT_FILE), key: readFileSync(s.KAFKA_TLS_KEY_FILE) } : {}),
    };
    out.ssl = Object.keys(files).length > 0 ? { ...files, rejectUnauthorized: true } : true;
  }
  if (s.KAFKA_SASL_MECHANISM && s.KAFKA_SASL_USERNAME !== undefined && s.KAFKA_SASL_PASSWORD !== undefined) {
    const credentials = { username: s.KAFKA_SASL_USERNAME, password: s.KAFKA_SASL_PASSWORD };
    out.sasl =
      s.KAFKA_SASL_MECHANISM === "plain"
        ? { mechanism: "plain", ...credentials }
        : s.KAFKA_SASL_MECHANISM === "scram-sha-256"
          ? { mechanism: "scram-sha-256", ...credentials }
          : { mechanism: "scram-sha-512", ...credentials };
  }
  return out;
}

/** Basic authentication for the registry client, when configured. */
export function registryAuth(s: RegistrySettings): { username: string; password: string } | undefined {
  return s.SCHEMA_REGISTRY_USERNAME !== undefined && s.SCHEMA_REGISTRY_PASSWORD !== undefined
    ? { username: s.SCHEMA_REGISTRY_USERNAME, password: s.SCHEMA_REGISTRY_PASSWORD }
    : undefined;
}

export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof sslModes)[number];

/** libpq's TLS parameters of a PostgreSQL URL, which postgres.js would otherwise send to the server as settings. */
const tlsParams = ["sslmode", "sslrootcert", "sslcert", "sslkey"] as const;

/**
 * postgres.js options for a PostgreSQL URL written as libpq takes it:
 * - `?host=/var/run/postgresql`: a Unix socket (no TLS there, as with libpq);
 * - `sslmode`: disable (the default here, unlike libpq's prefer), allow, prefer, require (encrypted,
 *   not verified, unless sslrootcert is given: then as verify-ca), verify-ca (the chain, not the
 *   host name), verify-full (chain and host name);
 * - `sslrootcert`: the CA file to verify with, or `system` (the system's CAs, and verify-full);
 *   without it, verify-ca and verify-full use the system's CAs;
 * - `sslcert` + `sslkey`: a client certificate.
 */
export function postgresTarget(url: string): { url: string; host?: string; ssl?: false | "allow" | "prefer" | "require" | ConnectionOptions } {
  const u = new URL(url);
  const params = Object.fromEntries(tlsParams.map((p) => [p, u.searchParams.get(p) ?? undefined])) as Record<(typeof tlsParams)[number], string | undefined>;
  for (const p of tlsParams) u.searchParams.delete(p);
  const host = u.searchParams.get("host") ?? undefined;
  const socket = host?.startsWith("/") === true;
  if (socket) u.searchParams.delete("host");
  const target = { url: u.toString(), ...(socket ? { host } : {}) };
  const system = params.sslrootcert === "system";
  const mode: SslMode = system ? "verify-full" : ((params.sslmode as SslMode | undefined) ?? "disable");
  if (socket || mode === "disable") return { ...target, ssl: false };
  const client = params.sslcert && params.sslkey ? { cert: readFileSync(params.sslcert), key: readFileSync(params.sslkey) } : {};
  const ca = params.sslrootcert && !system ? { ca: [readFileSync(params.sslrootcert)] } : {};
  const verify = mode === "verify-full" ? "full" : mode === "verify-ca" || (mode === "require" && "ca" in ca) ? "chain" : "none";
  if (verify === "none") {
    if (Object.keys(client).length > 0) return { ...target, ssl: { ...client, rejectUnauthorized: false } };
    return { ...target, ssl: mode as "allow" | "prefer" | "require" };
  }
  // postgres.js sends no server name for an IP address, and Node then checks the certificate
  // against "localhost": the address itself is what verify-full must check.
  const ip = isIP(u.hostname.replace(/^\[|\]$/g, "")) !== 0 ? { host: u.hostname.replace(/^\[|\]$/g, "") } : {};
  return {
    ...target,
    ssl: { ...client, ...ca, rejectUnauthorized: true, ...(verify === "chain" ? { checkServerIdentity: () => undefined } : ip) },
  };
}

const secretName = /PASSWORD|SECRET|TOKEN|PRIVATE/i;

/** A variable's value as a problem line may show it: a secret not at all, a URL without its password. */
export function hideSecrets(name: string, value: string): string {
  if (secretName.test(name)) return "a value, hidden";
  try {
    const u = new URL(value);
    if (u.password) {
      u.password = "***";
      return JSON.stringify(u.toString());
    }
  } catch {
    // not a URL
  }
  return JSON.stringify(value);
}

function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}

const truthy = (v: string | undefined) => v !== undefined && ["true", "1", "yes"].includes(v);

/**
 * The combinations the schema cannot see, one line per problem, on the variables as given:
 * SASL without a mechanism or without its credentials, TLS files without KAFKA_TLS, a
 * certificate without its key, files that cannot be read, half of the registry's credentials,
 * DATABASE_URL's TLS parameters. No line shows a password.
 */
export function connectionProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const problems: string[] = [];
  const set = (k: string) => env[k] !== undefined;

  if (set("KAFKA_SASL_MECHANISM")) {
    for (const k of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"]) if (!set(k)) problems.push(`${k}: required when KAFKA_SASL_MECHANISM is set (not set)`);
  } else {
    const given = ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"].filter(set);
    if (given.length > 0) problems.push(`KAFKA_SASL_MECHANISM: required when ${given.join(" and ")} ${given.length > 1 ? "are" : "is"} set: plain, scram-sha-256 or scram-sha-512 (not set)`);
  }

  const tlsFiles = ["KAFKA_TLS_CA_FILE", "KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE"] as const;
  if (!truthy(env.KAFKA_TLS)) {
    for (const k of tlsFiles) if (set(k)) problems.push(`${k}: only used with KAFKA_TLS=true (KAFKA_TLS is ${set("KAFKA_TLS") ? JSON.stringify(env.KAFKA_TLS) : "not set"})`);
  }
  if (set("KAFKA_TLS_CERT_FILE") !== set("KAFKA_TLS_KEY_FILE")) {
    const missing = set("KAFKA_TLS_CERT_FILE") ? "KAFKA_TLS_KEY_FILE" : "KAFKA_TLS_CERT_FILE";
    problems.push(`${missing}: a client certificate needs both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (not set)`);
  }
  for (const k of tlsFiles) {
    const path = env[k];
    const why = path === undefined ? undefined : unreadable(path);
    if (why) problems.push(`${k}: ${why}`);
  }

  if (set("SCHEMA_REGISTRY_USERNAME") !== set("SCHEMA_REGISTRY_PASSWORD")) {
    const missing = set("SCHEMA_REGISTRY_USERNAME") ? "SCHEMA_REGISTRY_PASSWORD" : "SCHEMA_REGISTRY_USERNAME";
    problems.push(`${missing}: the registry's basic authentication needs both SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (not set)`);
  }

  problems.push(...postgresUrlProblems(env.DATABASE_URL));
  return problems;
}

/** DATABASE_URL's TLS parameters (a URL that does not parse is reported by the schema). */
export function postgresUrlProblems(url: string | undefined): string[] {
  if (url === undefined || !URL.canParse(url)) return [];
  const q = new URL(url).searchParams;
  const problems: string[] = [];
  const mode = q.get("sslmode");
  const root = q.get("sslrootcert");
  if (mode !== null && !(sslModes as readonly string[]).includes(mode)) problems.push(`DATABASE_URL: sslmode must be one of ${sslModes.join(", ")} (got ${JSON.stringify(mode)})`);
  if (root !== null && root !== "system" && !["require", "verify-ca", "verify-full"].includes(mode ?? "")) {
    problems.push(`DATABASE_URL: sslrootcert needs sslmode=require, verify-ca or verify-full (sslmode is ${mode === null ? "not set" : JSON.stringify(mode)})`);
  }
  if ((q.get("sslcert") === null) !== (q.get("sslkey") === null)) problems.push("DATABASE_URL: a client certificate needs both sslcert and sslkey");
  for (const p of ["sslrootcert", "sslcert", "sslkey"]) {
    const path = q.get(p);
    const why = path === null || (p === "sslrootcert" && path === "system") ? undefined : unreadable(path);
    if (why) problems.push(`DATABASE_URL: ${p}: ${why}`);
  }
  return problems;
}
