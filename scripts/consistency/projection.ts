// projection-fold, pure: every stored service_metadata document equals the projection's own fold
// (services/projection/fold.ts) of its subscriber's lifecycle events in topic order, as a replay
// from offset 0 would rebuild it. A document that equals the fold of a prefix of its events, with
// the rest not yet consumed by the projection's group, is behind, not wrong: in flight for the
// grace period, a breach after it.
import { isDeepStrictEqual } from "node:util";
import { fold, type ProjectionDocument } from "../../services/projection/fold.js";
import { subscriberKey, type CheckOptions, type Finding, type LifecycleRecord, type ProjectionInput, type Report } from "./model.js";

/**
 * The document as compared. Fields that legitimately differ: none for documents the current
 * projection wrote. `radius_coa` and `service_plan_id` are absent on documents stored before
 * they existed and read as null, as the fold itself reads them (`current.radius_coa ?? null`).
 * A jsonb round trip changes nothing else (numbers are Avro longs in the safe-integer range, key
 * order is not compared).
 */
const comparable = (d: ProjectionDocument) => ({
  tenant_id: d.tenant_id,
  subscriber_id: d.subscriber_id,
  status: d.status,
  service_metadata: d.service_metadata,
  timeline: d.timeline,
  degraded_reasons: d.degraded_reasons,
  radius_coa: d.radius_coa ?? null,
  service_plan_id: d.service_plan_id ?? null,
  last_event_id: d.last_event_id,
});

const same = (a: ProjectionDocument, b: ProjectionDocument): boolean =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(comparable(a))), JSON.parse(JSON.stringify(comparable(b))));

const short = (v: unknown): string => {
  const s = JSON.stringify(v) ?? "undefined";
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

/** What differs between the stored document and the fold, field by field. */
export function differences(stored: ProjectionDocument, folded: ProjectionDocument): string[] {
  const a = JSON.parse(JSON.stringify(comparable(stored))) as Record<string, unknown>;
  const b = JSON.parse(JSON.stringify(comparable(folded))) as Record<string, unknown>;
  const out: string[] = [];
  for (const field of Object.keys(b)) {
    if (isDeepStrictEqual(a[field], b[field])) continue;
    if (field === "timeline") {
      const sa = stored.timeline;
      const fb = folded.timeline;
      const i = fb.findIndex((e, k) => !isDeepStrictEqual(JSON.parse(JSON.stringify(e)), JSON.parse(JSON.stringify(sa[k] ?? null))));
      const at = i === -1 ? fb.length : i;
      out.push(`timeline: stored ${sa.length} entries, fold ${fb.length}; first difference at #${at} (stored ${sa[at]?.event_type ?? "none"}, fold ${fb[at]?.event_type ?? "none"})`);
      continue;
    }
    if (field === "service_metadata") {
      const sm = (a[field] ?? {}) as Record<string, unknown>;
      const fm = (b[field] ?? {}) as Record<string, unknown>;
      for (const part of new Set([...Object.keys(sm), ...Object.keys(fm)])) {
        if (!isDeepStrictEqual(sm[part], fm[part])) out.push(`service_metadata.${part}: stored ${short(sm[part])}, fold ${short(fm[part])}`);
      }
      continue;
    }
    out.push(`${field}: stored ${short(a[field])}, fold ${short(b[field])}`);
  }
  return out;
}

export function checkProjection(input: ProjectionInput, options: CheckOptions): Report {
  const breaches: Finding[] = [];
  const inFlight: Finding[] = [];
  const events = new Map<string, LifecycleRecord[]>();
  for (const e of input.events) {
    const key = subscriberKey(e.message.meta.tenant_id, e.message.meta.subscriber_id ?? "");
    const list = events.get(key);
    if (list) list.push(e);
    else events.set(key, [e]);
  }
  const documents = new Map(input.documents.map((d) => [subscriberKey(d.tenant_id, d.subscriber_id), d]));

  for (const [key, list] of events) {
    const first = list[0];
    if (!first) continue;
    const tenant = first.message.meta.tenant_id;
    const subscriber = first.message.meta.subscriber_id ?? "";
    const stored = documents.get(key) ?? null;
    // The fold after each event, so a document that is merely behind is recognised.
    const states: ProjectionDocument[] = [];
    let doc: ProjectionDocument | null = null;
    for (const e of list) {
      doc = fold(doc, e.message);
      states.push(doc);
    }
    const folded = states.at(-1);
    if (!folded || (stored && same(stored, folded))) continue;
    let upTo = -1; // how many events the stored document has folded: the last prefix it equals
    if (stored) {
      for (let i = states.length - 1; i >= 0; i--) {
        const s = states[i];
        if (s && s.last_event_id === stored.last_event_id && same(stored, s)) {
          upTo = i;
          break;
        }
      }
    }
    const rest = list.slice(upTo + 1);
    const consumed = (e: LifecycleRecord) => (input.committed.get(e.partition) ?? -1n) > e.offset;
    const behind = (stored === null || upTo >= 0) && rest.every((e) => !consumed(e));
    if (behind) {
      const oldest = Math.min(...rest.map((e) => e.message.meta.occurred_at));
      const age = options.now - oldest;
      const finding: Finding = {
        invariant: "projection-fold",
        tenant,
        subscriber,
        detail: `${stored ? "document" : "no document yet"}: ${rest.length} event(s) not folded yet (from ${rest[0]?.message.type ?? ""}, ${Math.round(age / 1000)} s ago)`,
      };
      (age > options.graceMs ? breaches : inFlight).push(finding);
      continue;
    }
    const detail = stored ? differences(stored, folded).join("; ") : `no document, though the projection consumed its ${list.length} event(s)`;
    breaches.push({ invariant: "projection-fold", tenant, subscriber, detail });
  }
  for (const [key, d] of documents) {
    if (!events.has(key)) breaches.push({ invariant: "projection-fold", tenant: d.tenant_id, subscriber: d.subscriber_id, detail: "document without any lifecycle event on the topic" });
  }
  return { breaches, inFlight };
}
