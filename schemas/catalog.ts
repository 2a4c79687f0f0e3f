// Loads the Avro contract from the .avsc files beside this module: shared named types from
// common/, and one folder per topic holding the record types published on it.
// Every event schema is returned self-contained (shared types inlined), as it is registered.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import avro from "avsc";
import { logicalTypes } from "./logical-types.js";

export const schemasDir = dirname(fileURLToPath(import.meta.url));

export interface EventSchema {
  /** Short record name, the message `type`: `IpAllocated`. */
  readonly name: string;
  /** Avro full name: `fiber.lifecycle.IpAllocated`. */
  readonly fullName: string;
  readonly topic: string;
  /** TopicRecordNameStrategy: `<topic>-<full name>`. */
  readonly subject: string;
  /** Self-contained schema JSON (shared types inlined), as registered. */
  readonly schema: avro.Schema;
  readonly type: avro.Type;
  readonly file: string;
}

export interface Catalog {
  readonly events: readonly EventSchema[];
  readonly byFullName: ReadonlyMap<string, EventSchema>;
  readonly byName: ReadonlyMap<string, EventSchema>;
  readonly topics: readonly string[];
}

export type SchemaSource = (relativePath: string) => string;

const readSource: SchemaSource = (rel) => readFileSync(join(schemasDir, rel), "utf8");

const listAvsc = (dir: string): string[] =>
  readdirSync(join(schemasDir, dir))
    .filter((f) => f.endsWith(".avsc"))
    .sort()
    .map((f) => `${dir}/${f}`);

export const topicDirs = (): string[] =>
  readdirSync(schemasDir)
    .filter((d) => d !== "common" && statSync(join(schemasDir, d)).isDirectory() && listAvsc(d).length > 0)
    .sort();

export const schemaFiles = (): string[] => [...listAvsc("common"), ...topicDirs().flatMap(listAvsc)];

/** Parses the shared named types; they may refer to each other, so parse until a fixed point. */
export function commonRegistry(files: readonly string[], source: SchemaSource = readSource): Record<string, avro.Type> {
  const registry: Record<string, avro.Type> = {};
  let pending = [...files];
  while (pending.length > 0) {
    const failed: string[] = [];
    let lastError: unknown;
    for (const file of pending) {
      try {
        avro.Type.forSchema(JSON.parse(source(file)) as avro.Schema, { registry, logicalTypes });
      } catch (err) {
        failed.push(file);
        lastError = err;
      }
    }
    if (failed.length === pending.length) {
      throw new Error(`cannot parse shared schemas ${failed.join(", ")}: ${String(lastError)}`);
    }
    pending = failed;
  }
  return registry;
}

/** Builds the catalogue; `source` lets the compatibility check load other versions of the files. */
export function loadCatalog(source: SchemaSource = readSource, files: readonly string[] = schemaFiles()): Catalog {
  const common = files.filter((f) => f.startsWith("common/"));
  const registry = commonRegistry(common, source);
  const events = files
    .filter((f) => !f.startsWith("common/"))
    .map((file): EventSchema => {
      const topic = file.split("/")[0] ?? "";
      // A fresh copy of the shared registry per event, so each schema() inlines what it uses.
      const type = avro.Type.forSchema(JSON.parse(source(file)) as avro.Schema, {
        registry: { ...registry },
        logicalTypes,
      });
      const fullName = type.name ?? "";
      const name = fullName.split(".").pop() ?? fullName;
      if (`${name}.avsc` !== file.split("/")[1]) throw new Error(`${file} defines ${fullName}: the file name must match`);
      return { name, fullName, topic, subject: `${topic}-${fullName}`, schema: type.schema({ exportAttrs: true }) as avro.Schema, type, file };
    });
  const byName = new Map<string, EventSchema>();
  for (const e of events) {
    const clash = byName.get(e.name);
    if (clash) throw new Error(`record name ${e.name} is used by ${clash.file} and ${e.file}`);
    byName.set(e.name, e);
  }
  return {
    events,
    byFullName: new Map(events.map((e) => [e.fullName, e])),
    byName,
    topics: [...new Set(events.map((e) => e.topic))],
  };
}
