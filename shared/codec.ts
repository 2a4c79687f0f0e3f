// Avro encoding in the Confluent wire format through the schema registry, and decoding into the
// `{type, meta, data}` message of our contract. Decoding resolves the writer's schema (found by
// the id in the message) into the reader schema of the catalogue, so an event written by an older
// or newer version of a schema reads as the current type.
import { COMPATIBILITY, SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import type avro from "avsc";
import { TimeoutMiddleware } from "mappersmith/middleware/timeout";
import type { Catalog, EventSchema } from "../schemas/catalog.js";
import type { EventName, Message } from "../schemas/generated/events.js";
import { registryAuth, type RegistrySettings } from "./connections.js";
import { CredentialsRefused, DependencyUnavailable, PoisonMessageError } from "./errors.js";

/** FULL_TRANSITIVE: see docs/events.md for why. */
export const compatibilityLevel = COMPATIBILITY.FULL_TRANSITIVE;

export interface DecodedMessage {
  readonly message: Message;
  readonly schemaId: number;
}

export interface Codec {
  /** Registers the catalogue's schemas under their subjects (topic-record naming). */
  registerAll(): Promise<void>;
  /** Encodes a message for `topic` (the subject is `<topic>-<record full name>`). */
  encode(topic: string, message: Message): Promise<Buffer>;
  decode(value: Buffer | null): Promise<DecodedMessage>;
  readonly catalog: Catalog;
}

/**
 * Retries a registry call whatever it failed with: a timeout or a refused connection, and also a
 * 409, which two processes registering the same subject at once get ("A rule named
 * 'COMPATIBILITY' already exists"; the next attempt finds it). An incompatible schema fails every
 * attempt and is then refused for good (codec.refused tells the caller which it was).
 */
async function withRetries<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
}

const statusOf = (err: unknown): number | undefined =>
  typeof err === "object" && err !== null && "status" in err && typeof err.status === "number" ? err.status : undefined;

/** 401 / 403: the registry refused our credentials (SCHEMA_REGISTRY_USERNAME / _PASSWORD). */
const credentialsStatus = (status: number | undefined): boolean => status === 401 || status === 403;

/**
 * A registry's own 4xx answer. The registry client reports a request that never reached it
 * (connection refused, reset, timed out) as status 400 too, with the network error in its
 * message: that is the registry being away, not a refusal.
 */
export function refused(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined || status < 400 || status >= 500) return false;
  const message = err instanceof Error ? err.message : String(err);
  return !/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|[Tt]imeout/.test(message);
}

/** The one way a registry client is made: every service, script and CLI gets the configured credentials. */
export function createCodec(settings: RegistrySettings, catalog: Catalog): Codec {
  // Without a timeout, a request the registry never answers hangs the caller for good (seen: a
  // service start-up stuck in registerAll). The cast bridges mappersmith's ESM and CJS typings.
  const timeout = TimeoutMiddleware(10_000) as unknown as NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]["middlewares"]>[number];
  const auth = registryAuth(settings);
  const registry = new SchemaRegistry({ host: settings.SCHEMA_REGISTRY_URL, retry: { retries: 3 }, middlewares: [timeout], ...(auth ? { auth } : {}) });
  const idsBySubject = new Map<string, Promise<number>>();
  const resolvers = new Map<number, { event: EventSchema; resolver: avro.Resolver | undefined }>();

  const eventSchema = (type: string): EventSchema => {
    const e = catalog.byName.get(type);
    if (!e) throw new Error(`no schema for event type ${type}`);
    return e;
  };

  const subjectId = (topic: string, event: EventSchema): Promise<number> => {
    const subject = `${topic}-${event.fullName}`;
    let id = idsBySubject.get(subject);
    if (!id) {
      // Registering is idempotent: a request the registry did not answer in time (a cold or
      // loaded registry) is sent again rather than failing the encode.
      id = withRetries(
        () =>
          registry.register(
            { type: "record", name: event.fullName, fields: [], ...(event.schema as object) } as never,
            { subject, compatibility: compatibilityLevel },
          ),
        3,
      ).then((r) => r.id);
      id.catch(() => idsBySubject.delete(subject));
      idsBySubject.set(subject, id);
    }
    return id;
  };

  const readerFor = async (schemaId: number): Promise<{ event: EventSchema; resolver: avro.Resolver | undefined }> => {
    const cached = resolvers.get(schemaId);
    if (cached) return cached;
    let writer: avro.Type;
    try {
      writer = (await registry.getSchema(schemaId)) as unknown as avro.Type;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new PoisonMessageError("unknown-schema-id", `schema id ${schemaId} is not in the registry`);
      if (credentialsStatus(status)) throw new CredentialsRefused("schema registry", err); // waited for, like an outage
      throw new DependencyUnavailable("schema registry", err); // transient: the runner pauses and retries
    }
    const event = writer.name ? catalog.byFullName.get(writer.name) : undefined;
    if (!event) {
      throw new PoisonMessageError(
        "unknown-record-type",
        `record type ${writer.name ?? "(unnamed)"} (schema id ${schemaId}) is not part of the contract`,
      );
    }
    let resolver: avro.Resolver | undefined;
    if (!event.type.equals(writer)) {
      try {
        resolver = event.type.createResolver(writer);
      } catch (err) {
        throw new PoisonMessageError("incompatible-schema", `schema id ${schemaId} cannot be read as ${event.fullName}: ${String(err)}`);
      }
    }
    const entry = { event, resolver };
    resolvers.set(schemaId, entry);
    return entry;
  };

  return {
    catalog,
    async registerAll() {
      // A few at a time, each retried: start-up should neither take long nor fail on one hiccup.
      const queue = [...catalog.events];
      const worker = async () => {
        for (let e = queue.shift(); e; e = queue.shift()) {
          const event = e;
          await subjectId(event.topic, event);
        }
      };
      try {
        await Promise.all([worker(), worker(), worker(), worker()]);
      } catch (err) {
        // Credentials refused (401, 403) are waited for, as Kafka's are; another refusal (4xx: an
        // incompatible schema) is final; anything else means the registry is away.
        if (credentialsStatus(statusOf(err))) throw new CredentialsRefused("schema registry", err);
        if (refused(err)) throw err;
        throw new DependencyUnavailable("schema registry", err);
      }
    },
    async encode(topic, message) {
      const event = eventSchema(message.type);
      const record = { meta: message.meta, ...message.data };
      const problems: string[] = [];
      if (!event.type.isValid(record, { errorHook: (path, value) => problems.push(`${path.join(".")}=${JSON.stringify(value)}`) })) {
        throw new Error(`${message.type} does not match its schema: ${problems.join(", ")}`);
      }
      const id = await subjectId(topic, event);
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, event.type.toBuffer(record)]);
    },
    async decode(value) {
      if (!value || value.length < 5 || value[0] !== 0) {
        throw new PoisonMessageError("not-avro", "value is not in the Confluent Avro wire format (magic byte 0 and a schema id)");
      }
      const schemaId = value.readUInt32BE(1);
      const { event, resolver } = await readerFor(schemaId);
      let record: Record<string, unknown>;
      try {
        record = event.type.fromBuffer(value.subarray(5), resolver) as Record<string, unknown>;
      } catch (err) {
        throw new PoisonMessageError("undecodable", `bytes do not decode as ${event.fullName} (schema id ${schemaId}): ${String(err)}`);
      }
      const { meta, ...data } = record;
      return { schemaId, message: { type: event.name as EventName, meta, data } as Message };
    },
  };
}
