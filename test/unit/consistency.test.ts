// The consistency checker's pure rules (scripts/consistency/): given stores, orders and events,
// which breaches it names and what it leaves in flight.
import { describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { canonical, overlap, rangeOf } from "../../scripts/consistency/ips.js";
import type { LifecycleRecord, OrderRecord, Stores, SubscriberRecord } from "../../scripts/consistency/model.js";
import { checkOrders } from "../../scripts/consistency/orders.js";
import { checkProjection } from "../../scripts/consistency/projection.js";
import { formatReport, parseDuration } from "../../scripts/consistency/report.js";
import { checkStores } from "../../scripts/consistency/stores.js";
import { fold, type ProjectionDocument } from "../../services/projection/fold.js";

const T = "isp";
const now = 1_000_000_000;
const options = { now, graceMs: 180_000 };

interface Spec {
  readonly id: string;
  readonly status?: string;
  readonly ipv4?: string;
  readonly pd?: string;
  readonly connection?: string;
}

/** A consistent world: each subscriber with every part its status calls for. */
function world(specs: readonly Spec[]): Stores {
  const s: { [K in keyof Stores]: Stores[K][number][] } = { subscribers: [], profiles: [], allocations: [], freeListClashes: [], accounts: [], radiusRows: [], flows: [], billing: [] };
  for (const spec of specs) {
    const status = spec.status ?? "active";
    const ipv4 = spec.ipv4 ?? "100.64.0.10";
    const gone = status === "archived" || status === "rolled_back";
    const user = `u-${spec.id}`;
    s.subscribers.push({ tenant_id: T, subscriber_id: spec.id, status, connection_type: spec.connection ?? "ftth", profile_skipped: false, pending: null, last_progress_at: now - 1_000 });
    s.profiles.push({ tenant_id: T, subscriber_id: spec.id, ips: { ipv4, ipv6: null, ipv6_pd: spec.pd ?? null }, deleted: gone });
    s.accounts.push({ tenant_id: T, subscriber_id: spec.id, username: user, status: gone ? "deleted" : status, suspend_mode: status === "suspended" ? "reject" : null });
    s.billing.push({ tenant_id: T, subscriber_id: spec.id, service_id: `b-${spec.id}`, status: gone ? "terminated" : status });
    if (gone) continue;
    s.allocations.push({ tenant_id: T, subscriber_id: spec.id, family: "ipv4", address: ipv4, allocated_at: now - 60_000 });
    if (spec.pd) s.allocations.push({ tenant_id: T, subscriber_id: spec.id, family: "ipv6_pd", address: spec.pd, allocated_at: now - 60_000 });
    s.radiusRows.push({ tenant_id: T, table: "radcheck", username: user, attribute: "SSHA2-512-Password", value: null });
    if (status === "suspended") s.radiusRows.push({ tenant_id: T, table: "radcheck", username: user, attribute: "Auth-Type", value: null });
    s.radiusRows.push({ tenant_id: T, table: "radreply", username: user, attribute: "Framed-IP-Address", value: ipv4 });
    if (spec.pd) s.radiusRows.push({ tenant_id: T, table: "radreply", username: user, attribute: "Delegated-IPv6-Prefix", value: spec.pd });
    s.radiusRows.push({ tenant_id: T, table: "radusergroup", username: user, attribute: "group", value: `${T}:home` });
    if ((spec.connection ?? "ftth") === "ftth") s.flows.push({ tenant_id: T, subscriber_id: spec.id, serial: `ONU-${spec.id}`, onu_state: "active" });
  }
  return s;
}

const a = { id: "a", ipv4: "100.64.0.10", pd: "2001:db8:100::/56" };
const b = { id: "b", ipv4: "100.64.0.11", pd: "2001:db8:200::/56" };
const breachesOf = (stores: Stores) => checkStores(stores, options).breaches.map((f) => [f.invariant, f.subscriber, f.detail]);

describe("addresses", () => {
  it("reads every writer's form of a value as one canonical text", () => {
    expect(canonical("ipv6", "2001:DB8:0:0::5/128")).toBe("2001:db8::5");
    expect(canonical("ipv6_pd", "2001:0db8:0100:0000::/56")).toBe("2001:db8:100::/56");
    expect(canonical("ipv4", "not an address")).toBe("not an address");
  });

  it("sees an address inside a prefix, and two prefixes apart as apart", () => {
    const pd = rangeOf("ipv6_pd", "2001:db8:100::/56");
    const inside = rangeOf("ipv6", "2001:db8:100:ff::1");
    const apart = rangeOf("ipv6_pd", "2001:db8:101::/56");
    expect(pd && inside && overlap(pd, inside)).toBe(true);
    expect(pd && apart && overlap(pd, apart)).toBe(false);
  });
});

describe("the stores", () => {
  it("finds nothing in a consistent world of active, suspended, wireless, terminated and rolled-back subscribers", () => {
    const stores = world([a, b, { id: "c", status: "suspended", ipv4: "100.64.0.12" }, { id: "w", connection: "wireless", ipv4: "100.64.0.13" }, { id: "t", status: "archived" }, { id: "r", status: "rolled_back" }]);
    expect(checkStores(stores, options)).toEqual({ breaches: [], inFlight: [] });
  });

  it("unique-ips: a prefix inside another subscriber's is named once, with both owners", () => {
    const stores = world([a, { ...b, pd: "2001:db8:100::/60" }]);
    expect(breachesOf(stores)).toEqual([["unique-ips", "a", "delegated prefix 2001:db8:100::/56 (IPAM) overlaps delegated prefix 2001:db8:100::/60 (IPAM) of subscriber b"]]);
  });

  it("unique-ips and radius-ips: a Framed-IP-Address that is another subscriber's address", () => {
    const stores = world([a, b]);
    const row = stores.radiusRows.find((r) => r.username === "u-b" && r.attribute === "Framed-IP-Address");
    const changed = { ...stores, radiusRows: [...stores.radiusRows.filter((r) => r !== row), { ...row!, value: "100.64.0.10" }] };
    expect(breachesOf(changed)).toEqual([
      ["unique-ips", "a", "IPv4 100.64.0.10 (IPAM) is also held by subscriber b"],
      ["radius-ips", "b", "Framed-IP-Address 100.64.0.10, IPAM IPv4 100.64.0.11"],
    ]);
  });

  it("unique-ips: a held unit that is also on its pool's free list", () => {
    const stores = { ...world([a]), freeListClashes: [{ tenant_id: T, subscriber_id: "a", family: "ipv4" as const, address: "100.64.0.10", pool: "v4" }] };
    expect(breachesOf(stores)).toEqual([["unique-ips", "a", "IPv4 100.64.0.10 is held and also on the free list of pool v4 (it would be handed out again)"]]);
  });

  it("radius-ips: a missing or repeated framed attribute", () => {
    const stores = world([a]);
    const noPd = { ...stores, radiusRows: stores.radiusRows.filter((r) => r.attribute !== "Delegated-IPv6-Prefix") };
    expect(breachesOf(noPd)).toEqual([["radius-ips", "a", "Delegated-IPv6-Prefix absent, IPAM delegated prefix 2001:db8:100::/56"]]);
    const twice = { ...stores, radiusRows: [...stores.radiusRows, { tenant_id: T, table: "radreply" as const, username: "u-a", attribute: "Framed-IP-Address", value: "100.64.0.10" }] };
    expect(breachesOf(twice)).toEqual([["radius-ips", "a", "Framed-IP-Address appears 2 times (100.64.0.10, 100.64.0.10); IPAM IPv4 100.64.0.10"]]);
  });

  it("active-complete: each missing part of an active subscriber, and an ONU only for FTTH", () => {
    const stores = world([a, { id: "w", connection: "wireless", ipv4: "100.64.0.13" }]);
    const broken: Stores = { ...stores, billing: stores.billing.filter((x) => x.subscriber_id !== "a"), flows: [], profiles: stores.profiles.filter((p) => p.subscriber_id !== "a") };
    expect(breachesOf(broken)).toEqual([
      ["active-complete", "a", "active: no network profile"],
      ["active-complete", "a", "active: no ONU service flow on the OLT"],
      ["active-complete", "a", "active: no billing record that charges"],
    ]);
  });

  it("active-complete: a skipped profile is not missing", () => {
    const stores = world([a]);
    const skipped: Stores = { ...stores, subscribers: stores.subscribers.map((s) => ({ ...s, profile_skipped: true })), profiles: [] };
    expect(breachesOf(skipped)).toEqual([]);
  });

  it("active-complete: a suspended subscriber that FreeRADIUS would still accept, unless its order is in flight", () => {
    const stores = world([{ id: "c", status: "suspended", ipv4: "100.64.0.12" }]);
    const noReject: Stores = { ...stores, radiusRows: stores.radiusRows.filter((r) => r.attribute !== "Auth-Type") };
    expect(breachesOf(noReject)).toEqual([["active-complete", "c", "suspended: RADIUS account u-c has no Auth-Type := Reject (suspend mode reject)"]]);
    const accepted: Stores = { ...noReject, accounts: noReject.accounts.map((x) => ({ ...x, status: "active", suspend_mode: null })) };
    expect(breachesOf(accepted)).toEqual([["active-complete", "c", "suspended: RADIUS account u-c is active"]]);
    const resuming: Stores = { ...accepted, subscribers: accepted.subscribers.map((s): SubscriberRecord => ({ ...s, pending: { order_id: "o-1", order_type: "resume", stalled: null } })) };
    expect(checkStores(resuming, options).breaches).toEqual([]);
  });

  it("nothing-left: what a terminated subscriber still holds, and FreeRADIUS rows no account claims", () => {
    const stores = world([{ id: "t", status: "archived" }]);
    const left: Stores = {
      ...stores,
      allocations: [{ tenant_id: T, subscriber_id: "t", family: "ipv4", address: "100.64.0.10", allocated_at: now }],
      radiusRows: [
        { tenant_id: T, table: "radcheck", username: "u-t", attribute: "SSHA2-512-Password", value: null },
        { tenant_id: T, table: "radreply", username: "ghost", attribute: "Framed-IP-Address", value: "100.64.9.9" },
      ],
      billing: stores.billing.map((x) => ({ ...x, status: "active" })),
    };
    expect(breachesOf(left)).toEqual([
      ["nothing-left", "t", "terminated: IPAM still holds IPv4 100.64.0.10"],
      ["nothing-left", "t", "terminated: radcheck (SSHA2-512-Password) left for u-t"],
      ["nothing-left", "t", "terminated: billing record b-t is active"],
      ["nothing-left", null, "radreply (Framed-IP-Address) for username ghost, which no RADIUS account has"],
    ]);
  });

  it("nothing-left: parts of a subscriber the subscriber service does not know", () => {
    const stores = world([a]);
    const orphan: Stores = { ...stores, subscribers: [] };
    expect(breachesOf(orphan).map(([inv, , detail]) => `${String(inv)}: ${String(detail)}`)).toEqual([
      "nothing-left: IPAM holds IPv4 100.64.0.10, for a subscriber the subscriber service does not know",
      "nothing-left: IPAM holds delegated prefix 2001:db8:100::/56, for a subscriber the subscriber service does not know",
      "nothing-left: RADIUS account u-a is active, for a subscriber the subscriber service does not know",
      "nothing-left: service flow on ONU ONU-a, for a subscriber the subscriber service does not know",
      "nothing-left: billing record b-a is active, for a subscriber the subscriber service does not know",
      "nothing-left: live network profile, for a subscriber the subscriber service does not know",
    ]);
  });

  it("profile-ips: a written-back address that differs is a breach; one not written back yet is in flight for the grace period", () => {
    const stores = world([a]);
    const other: Stores = { ...stores, profiles: stores.profiles.map((p) => ({ ...p, ips: { ...p.ips, ipv4: "100.64.0.99" } })) };
    expect(breachesOf(other)).toEqual([["profile-ips", "a", "IPv4: profile 100.64.0.99, IPAM 100.64.0.10"]]);
    const pending: Stores = { ...stores, profiles: stores.profiles.map((p) => ({ ...p, ips: { ipv4: null, ipv6: null, ipv6_pd: null } })) };
    const recent = checkStores(pending, { now: now - 60_000 + 1_000, graceMs: 180_000 });
    expect(recent.breaches).toEqual([]);
    expect(recent.inFlight.map((f) => f.detail)).toEqual(["IPv4: profile none, IPAM 100.64.0.10 (write-back pending)", "delegated prefix: profile none, IPAM 2001:db8:100::/56 (write-back pending)"]);
    expect(breachesOf(pending)).toHaveLength(0); // 60 s after allocation, within the grace period
    expect(checkStores(pending, { now: now + 600_000, graceMs: 180_000 }).breaches.map((f) => f.invariant)).toEqual(["profile-ips", "profile-ips"]);
  });

  it("orders-terminal: a subscriber in flight past the grace period, and one within it", () => {
    const stores = world([a, b]);
    const stuck: Stores = {
      ...stores,
      subscribers: stores.subscribers.map((s) =>
        s.subscriber_id === "a" ? { ...s, pending: { order_id: "sus-1", order_type: "suspend", stalled: null }, last_progress_at: now - 600_000 } : { ...s, status: "provisioning" },
      ),
    };
    const r = checkStores(stuck, options);
    expect(r.breaches.map((f) => [f.subscriber, f.detail])).toEqual([["a", "suspend order sus-1 in flight, no progress for 600 s"]]);
    expect(r.inFlight.map((f) => [f.subscriber, f.detail])).toEqual([["b", "provisioning, no progress for 1 s"]]);
  });
  it("orders-terminal: a stalled termination has ended its order: reported, not a breach", () => {
    const stores = world([a]);
    const stalled: Stores = {
      ...stores,
      subscribers: stores.subscribers.map((s) => ({ ...s, status: "terminating", pending: { order_id: "ter-1", order_type: "terminate", stalled: "olt (deadline_exceeded)" }, last_progress_at: now - 600_000 })),
    };
    const r = checkStores(stalled, options);
    expect(r.breaches).toEqual([]);
    expect(r.inFlight.map((f) => f.detail)).toEqual(["termination stalled at olt (deadline_exceeded); order ter-1 failed, waits for a new terminate order"]);
  });
});

describe("orders", () => {
  const order = (id: string, statuses: string[], age: number): OrderRecord => ({ tenant_id: T, order_id: id, type: "SuspendOrderPlaced", subscriber_id: "a", placed_at: now - age, statuses });

  it("an order with a terminal status is done; one without is in flight, then a breach after the grace period", () => {
    const r = checkOrders([order("done", ["OrderAccepted", "OrderCompleted"], 900_000), order("rejected", ["OrderRejected"], 900_000), order("young", ["OrderAccepted"], 5_000), order("old", [], 900_000)], options);
    expect(r.breaches.map((f) => f.detail)).toEqual(["SuspendOrderPlaced old placed 900 s ago has no terminal status (no status at all)"]);
    expect(r.inFlight.map((f) => f.detail)).toEqual(["SuspendOrderPlaced young placed 5 s ago has no terminal status (last: OrderAccepted)"]);
  });
});

describe("projection", () => {
  let n = 0;
  const event = (type: string, data: Record<string, unknown>, at = now - 10_000): Message =>
    ({ type, data, meta: { event_id: `e${++n}`, occurred_at: at, tenant_id: T, subscriber_id: "a", correlation_id: "o-1", causation_id: null, producer: "test" } }) as unknown as Message;
  const created = event("SubscriberCreated", { subscriber_number: "SUB-1", order_id: "o-1", service_plan_id: "home", connection_type: "ftth" });
  const allocated = event("IpAllocated", { ips: { ipv4: "100.64.0.10", ipv6: null, ipv6_prefix: null, source: "dynamic" } });
  const provisioned = event("SubscriberProvisioned", {});
  const events: LifecycleRecord[] = [created, allocated, provisioned].map((message, i) => ({ partition: 2, offset: BigInt(10 + i), message }));
  const foldAll = (ms: readonly Message[]): ProjectionDocument => ms.reduce<ProjectionDocument | null>((d, m) => fold(d, m), null) as ProjectionDocument;
  const full = foldAll([created, allocated, provisioned]);

  it("a document equal to the fold of its events is consistent; a jsonb round trip changes nothing", () => {
    const stored = JSON.parse(JSON.stringify(full)) as ProjectionDocument;
    expect(checkProjection({ documents: [stored], events, committed: new Map([[2, 13n]]) }, options)).toEqual({ breaches: [], inFlight: [] });
  });

  it("a document behind events its group has not consumed is in flight; behind events it has consumed, a breach", () => {
    const behind = foldAll([created, allocated]);
    const notYet = checkProjection({ documents: [behind], events, committed: new Map([[2, 12n]]) }, options);
    expect(notYet.breaches).toEqual([]);
    expect(notYet.inFlight.map((f) => f.detail)).toEqual(["document: 1 event(s) not folded yet (from SubscriberProvisioned, 10 s ago)"]);
    const lost = checkProjection({ documents: [behind], events, committed: new Map([[2, 13n]]) }, options);
    expect(lost.breaches.map((f) => f.detail)).toEqual([
      'status: stored "provisioning", fold "active"; timeline: stored 2 entries, fold 3; first difference at #2 (stored none, fold SubscriberProvisioned); last_event_id: stored "e2", fold "e3"',
    ]);
  });

  it("a changed document, a document without events and events without a document", () => {
    const changed = { ...full, service_metadata: { ...full.service_metadata, allocated_ips: null } };
    const r = checkProjection({ documents: [changed, { ...full, subscriber_id: "z" }], events, committed: new Map([[2, 13n]]) }, options);
    expect(r.breaches.map((f) => [f.subscriber, f.detail])).toEqual([
      ["a", 'service_metadata.allocated_ips: stored null, fold {"ipv4":"100.64.0.10","ipv6":null,"ipv6_prefix":null,"source":"dynamic"}'],
      ["z", "document without any lifecycle event on the topic"],
    ]);
    expect(checkProjection({ documents: [], events, committed: new Map([[2, 13n]]) }, options).breaches.map((f) => f.detail)).toEqual(["no document, though the projection consumed its 3 event(s)"]);
  });
});

describe("the report", () => {
  it("one line per breach, a summary per invariant, and the verdict", () => {
    const lines = formatReport(
      { breaches: [{ invariant: "radius-ips", tenant: T, subscriber: "b", detail: "Framed-IP-Address 1.2.3.4, IPAM IPv4 100.64.0.11" }], inFlight: [] },
      { subscribers: 2, byStatus: new Map([["active", 2]]), orders: 2, documents: 2, events: 20 },
      { tenant: T, graceMs: 180_000 },
    );
    expect(lines[0]).toBe("BREACH    radius-ips      tenant=isp subscriber=b: Framed-IP-Address 1.2.3.4, IPAM IPv4 100.64.0.11");
    expect(lines).toContain("  radius-ips      1 breach");
    expect(lines).toContain("  unique-ips      ok");
    expect(lines.at(-1)).toBe("1 breach");
  });

  it("reads durations", () => {
    expect(parseDuration("180s")).toBe(180_000);
    expect(parseDuration("3m")).toBe(180_000);
    expect(parseDuration("250")).toBe(250);
    expect(() => parseDuration("soon")).toThrow(/not a duration/);
  });
});
