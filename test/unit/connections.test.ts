// Secured connections: the variables' rules (checked with the rest of the configuration, no
// password ever echoed) and the client options built from them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../shared/config.js";
import { hideSecrets, kafkaSecurity, postgresTarget, registryAuth } from "../../shared/connections.js";
import { CredentialsRefused, credentialsRefused, DependencyUnavailable, isTransient } from "../../shared/errors.js";
import { postgresOptions } from "../../shared/db.js";

const dir = mkdtempSync(join(tmpdir(), "connections-test-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file("ca.pem", "CA");
const cert = file("client.pem", "CERT");
const key = file("client.key", "KEY");

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig({}, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
};

describe("Kafka SASL and TLS variables", () => {
  it("builds SCRAM over TLS with a CA file and a client certificate", () => {
    const c = loadConfig({}, {
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "svc",
      KAFKA_SASL_PASSWORD: "pw",
      KAFKA_TLS: "true",
      KAFKA_TLS_CA_FILE: ca,
      KAFKA_TLS_CERT_FILE: cert,
      KAFKA_TLS_KEY_FILE: key,
    });
    expect(kafkaSecurity(c)).toEqual({
      sasl: { mechanism: "scram-sha-512", username: "svc", password: "pw" },
      ssl: { ca: [Buffer.from("CA")], cert: Buffer.from("CERT"), key: Buffer.from("KEY"), rejectUnauthorized: true },
    });
  });

  it("trusts the system's CAs when KAFKA_TLS has no CA file, and connects in plaintext without any variable", () => {
    expect(kafkaSecurity(loadConfig({}, { KAFKA_TLS: "true", KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" }))).toEqual({
      ssl: true,
      sasl: { mechanism: "plain", username: "u", password: "p" },
    });
    expect(kafkaSecurity(loadConfig({}, {}))).toEqual({});
  });

  it("reports a mechanism without its credentials, credentials without a mechanism, and an unknown mechanism", () => {
    expect(problemsOf({ KAFKA_SASL_MECHANISM: "scram-sha-256", KAFKA_SASL_USERNAME: "u" })).toEqual(["KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set (not set)"]);
    expect(problemsOf({ KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" })).toEqual([
      "KAFKA_SASL_MECHANISM: required when KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set: plain, scram-sha-256 or scram-sha-512 (not set)",
    ]);
    expect(problemsOf({ KAFKA_SASL_MECHANISM: "gssapi", KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" })).toEqual([
      'KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512 (got "gssapi")',
    ]);
  });

  it("reports TLS files without KAFKA_TLS, a certificate without its key, and a file that cannot be read", () => {
    expect(problemsOf({ KAFKA_TLS_CA_FILE: ca })).toEqual(["KAFKA_TLS_CA_FILE: only used with KAFKA_TLS=true (KAFKA_TLS is not set)"]);
    expect(problemsOf({ KAFKA_TLS: "true", KAFKA_TLS_CERT_FILE: cert })).toEqual([
      "KAFKA_TLS_KEY_FILE: a client certificate needs both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (not set)",
    ]);
    expect(problemsOf({ KAFKA_TLS: "true", KAFKA_TLS_CA_FILE: join(dir, "missing.pem") })).toEqual([`KAFKA_TLS_CA_FILE: cannot read ${join(dir, "missing.pem")} (ENOENT)`]);
  });

  it("never shows a password in a problem line", () => {
    const problems = problemsOf({
      KAFKA_SASL_PASSWORD: "hunter2-kafka",
      SCHEMA_REGISTRY_PASSWORD: "hunter2-registry",
      DATABASE_URL: "postgres://svc:hunter2-db@db.example:5432/fiber?sslmode=sometimes",
      HTTP_PORT: "x",
      RADIUS_SECRET: "hunter2-radius",
    }).join("\n");
    expect(problems).toContain("KAFKA_SASL_MECHANISM: required when KAFKA_SASL_PASSWORD is set");
    expect(problems).toContain("SCHEMA_REGISTRY_USERNAME: the registry's basic authentication needs both");
    expect(problems).toContain('DATABASE_URL: sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full (got "sometimes")');
    expect(problems).not.toMatch(/hunter2/);
    expect(hideSecrets("KAFKA_SASL_PASSWORD", "hunter2")).toBe("a value, hidden");
    expect(hideSecrets("DATABASE_URL", "postgres://svc:hunter2@db/fiber")).toBe('"postgres://svc:***@db/fiber"');
    expect(hideSecrets("KAFKA_BROKERS", "no-port")).toBe('"no-port"');
  });
});

describe("schema registry credentials", () => {
  it("uses basic authentication with both variables, none without", () => {
    expect(registryAuth(loadConfig({}, { SCHEMA_REGISTRY_USERNAME: "reg", SCHEMA_REGISTRY_PASSWORD: "pw" }))).toEqual({ username: "reg", password: "pw" });
    expect(registryAuth(loadConfig({}, {}))).toBeUndefined();
    expect(problemsOf({ SCHEMA_REGISTRY_USERNAME: "reg" })).toEqual([
      "SCHEMA_REGISTRY_PASSWORD: the registry's basic authentication needs both SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (not set)",
    ]);
  });
});

describe("PostgreSQL TLS from DATABASE_URL (libpq's parameters)", () => {
  const base = "postgres://svc@db.example:5432/fiber";

  it("connects without TLS by default, and over libpq's Unix socket form without TLS whatever sslmode says", () => {
    expect(postgresTarget(base)).toEqual({ url: base, ssl: false });
    expect(postgresOptions("postgres://postgres@localhost/fiber?host=/var/run/postgresql&sslmode=require")).toEqual({
      url: "postgres://postgres@localhost/fiber",
      options: { host: "/var/run/postgresql", ssl: false },
    });
  });

  it("encrypts without verifying for require, prefer and allow, and takes the parameters out of the URL", () => {
    expect(postgresTarget(`${base}?sslmode=require`)).toEqual({ url: base, ssl: "require" });
    expect(postgresTarget(`${base}?sslmode=prefer&application_name=x`)).toEqual({ url: `${base}?application_name=x`, ssl: "prefer" });
  });

  it("verifies the chain with sslrootcert (require with a CA, verify-ca), and the host name too with verify-full", () => {
    const chainOnly = postgresTarget(`${base}?sslmode=verify-ca&sslrootcert=${ca}`).ssl as { ca: Buffer[]; rejectUnauthorized: boolean; checkServerIdentity?: () => undefined };
    expect(chainOnly).toMatchObject({ ca: [Buffer.from("CA")], rejectUnauthorized: true });
    expect(chainOnly.checkServerIdentity?.()).toBeUndefined();
    expect(postgresTarget(`${base}?sslmode=require&sslrootcert=${ca}`).ssl).toMatchObject({ ca: [Buffer.from("CA")], rejectUnauthorized: true, checkServerIdentity: expect.any(Function) });
    expect(postgresTarget(`${base}?sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`).ssl).toEqual({
      ca: [Buffer.from("CA")],
      cert: Buffer.from("CERT"),
      key: Buffer.from("KEY"),
      rejectUnauthorized: true,
    });
    // An IP address is checked as itself (postgres.js sends no server name for one).
    expect(postgresTarget(`postgres://svc@127.0.0.1:5432/fiber?sslmode=verify-full&sslrootcert=${ca}`).ssl).toEqual({ ca: [Buffer.from("CA")], rejectUnauthorized: true, host: "127.0.0.1" });
    // sslrootcert=system: the system's CAs, and the host name checked (libpq 16).
    expect(postgresTarget(`${base}?sslrootcert=system`).ssl).toEqual({ rejectUnauthorized: true });
  });

  it("reports a CA file without a verifying sslmode, half a client certificate, and a file that cannot be read", () => {
    expect(problemsOf({ DATABASE_URL: `${base}?sslrootcert=${ca}` })).toEqual(["DATABASE_URL: sslrootcert needs sslmode=require, verify-ca or verify-full (sslmode is not set)"]);
    expect(problemsOf({ DATABASE_URL: `${base}?sslmode=require&sslcert=${cert}` })).toEqual(["DATABASE_URL: a client certificate needs both sslcert and sslkey"]);
    expect(problemsOf({ DATABASE_URL: `${base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem` })).toEqual([
      "DATABASE_URL: sslrootcert: cannot read /nonexistent/ca.pem (ENOENT)",
    ]);
  });
});

describe("credentials a dependency refuses", () => {
  it("are waited for like an outage (never a DLQ, never an exit), and say which dependency refused them", () => {
    const sasl = Object.assign(new Error("SASL SCRAM SHA512 authentication failed: invalid credentials"), { name: "KafkaJSSASLAuthenticationError", retriable: false });
    expect(credentialsRefused(sasl)).toBe("kafka");
    expect(isTransient(sasl)).toBe(true);
    const registry = new CredentialsRefused("schema registry", Object.assign(new Error("Unauthorized"), { status: 401 }));
    expect(credentialsRefused(new DependencyUnavailable("x", registry))).toBe("schema registry");
    expect(isTransient(registry)).toBe(true);
    expect(credentialsRefused(new Error("ECONNREFUSED"))).toBeUndefined();
  });
});
