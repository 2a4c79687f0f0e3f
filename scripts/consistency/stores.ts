// The invariants across the services' own stores, pure: given one snapshot of every schema, what
// is broken. Each store is read in the same snapshot (one repeatable-read transaction over one
// database), so nothing here can be an artefact of reading two stores at different moments; a
// step that is legitimately still on its way is not judged (a subscriber provisioning, failing
// or terminating), or judged against the grace period (the profile's write-back).
import { canonical, families, familyLabel, overlap, radiusAttribute, rangeOf, type Family, type Range } from "./ips.js";
import {
  subscriberKey,
  type AllocationRecord,
  type CheckOptions,
  type Finding,
  type Invariant,
  type RadiusRow,
  type Report,
  type Stores,
  type SubscriberRecord,
} from "./model.js";

/** The subscriber service's statuses in which a subscriber holds every part. */
const live = new Set(["active", "suspended"]);
/** Statuses after which nothing but the soft-deleted profile may remain. */
const gone = new Set(["rolled_back", "archived"]);
/** Billing statuses that no longer charge. */
const billingEnded = new Set(["cancelled", "terminated"]);

const isFtth = (connectionType: string): boolean => connectionType.trim().toLowerCase() === "ftth";
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

const bySubscriber = <T extends { tenant_id: string; subscriber_id: string }>(items: readonly T[]) =>
  groupBy(items, (i) => subscriberKey(i.tenant_id, i.subscriber_id));

interface Holding {
  readonly tenant: string;
  /** A subscriber id, or `username <u>` for FreeRADIUS rows no account claims. */
  readonly owner: string;
  readonly subscriber: string | null;
  readonly family: Family;
  readonly text: string;
  readonly source: "IPAM" | "RADIUS";
  readonly range: Range;
}

/** Same address, overlapping prefixes, an address inside another's prefix: any overlap between two owners. */
function overlappingHoldings(holdings: readonly Holding[], report: (f: Finding) => void): void {
  const seen = new Set<string>();
  for (const group of groupBy(holdings, (h) => `${h.tenant}\u0000${h.range.version}`).values()) {
    const sorted = [...group].sort((a, b) => (a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0));
    let open: Holding[] = [];
    for (const h of sorted) {
      open = open.filter((o) => o.range.last >= h.range.first);
      for (const o of open) {
        if (o.owner === h.owner || !overlap(o.range, h.range)) continue;
        const [a, b] = o.owner < h.owner ? [o, h] : [h, o];
        const key = [a.owner, a.text, b.owner, b.text].join("\u0000");
        if (seen.has(key)) continue;
        seen.add(key);
        const what = a.text === b.text ? `${familyLabel[a.family]} ${a.text} (${a.source}) is also held by` : `${familyLabel[a.family]} ${a.text} (${a.source}) overlaps ${familyLabel[b.family]} ${b.text} (${b.source}) of`;
        report({ invariant: "unique-ips", tenant: a.tenant, subscriber: a.subscriber ?? a.owner, detail: `${what} ${b.subscriber ? `subscriber ${b.subscriber}` : b.owner}` });
      }
      open.push(h);
    }
  }
}

export function checkStores(stores: Stores, options: CheckOptions): Report {
  const breaches: Finding[] = [];
  const inFlight: Finding[] = [];
  const breach = (invariant: Invariant, s: { tenant_id: string; subscriber_id: string | null }, detail: string) =>
    breaches.push({ invariant, tenant: s.tenant_id, subscriber: s.subscriber_id, detail });

  const subscribers = new Map(stores.subscribers.map((s) => [subscriberKey(s.tenant_id, s.subscriber_id), s]));
  const profiles = bySubscriber(stores.profiles);
  const allocations = bySubscriber(stores.allocations);
  const accounts = bySubscriber(stores.accounts);
  const flows = bySubscriber(stores.flows);
  const billing = bySubscriber(stores.billing);
  const rowsByUser = groupBy(stores.radiusRows, (r) => `${r.tenant_id}\u0000${r.username}`);
  const accountByUser = new Map(stores.accounts.map((a) => [`${a.tenant_id}\u0000${a.username}`, a]));
  const rowsOf = (tenant: string, username: string): RadiusRow[] => rowsByUser.get(`${tenant}\u0000${username}`) ?? [];
  const allocationOf = (list: readonly AllocationRecord[] | undefined, f: Family): AllocationRecord | undefined => list?.find((a) => a.family === f);

  // unique-ips: what IPAM binds and what FreeRADIUS hands out, per tenant (tenants are separate
  // networks and may use the same private ranges).
  const holdings: Holding[] = [];
  for (const a of stores.allocations) {
    const range = rangeOf(a.family, a.address);
    if (range) holdings.push({ tenant: a.tenant_id, owner: a.subscriber_id, subscriber: a.subscriber_id, family: a.family, text: canonical(a.family, a.address), source: "IPAM", range });
  }
  for (const r of stores.radiusRows) {
    const family = families.find((f) => r.table === "radreply" && radiusAttribute[f] === r.attribute);
    const range = family && r.value !== null ? rangeOf(family, r.value) : null;
    if (!family || !range || r.value === null) continue;
    const account = accountByUser.get(`${r.tenant_id}\u0000${r.username}`);
    const owner = account?.subscriber_id ?? `username ${r.username}`;
    holdings.push({ tenant: r.tenant_id, owner, subscriber: account?.subscriber_id ?? null, family, text: canonical(family, r.value), source: "RADIUS", range });
  }
  overlappingHoldings(holdings, (f) => breaches.push(f));
  for (const c of stores.freeListClashes) {
    breach("unique-ips", c, `${familyLabel[c.family]} ${canonical(c.family, c.address)} is held and also on the free list of pool ${c.pool} (it would be handed out again)`);
  }

  // radius-ips: a live account's framed addresses are exactly IPAM's allocation.
  for (const a of stores.accounts) {
    if (a.status === "deleted") {
      // deleteAccount removes the FreeRADIUS rows with the account (a rolled-back or terminated
      // subscriber's are reported with the rest of what it left, below).
      const rows = rowsOf(a.tenant_id, a.username);
      const s = subscribers.get(subscriberKey(a.tenant_id, a.subscriber_id));
      if (rows.length > 0 && !(s && gone.has(s.status))) breach("nothing-left", a, `${describeRows(rows)} left for deleted RADIUS account ${a.username}`);
      continue;
    }
    const replies = rowsOf(a.tenant_id, a.username).filter((r) => r.table === "radreply");
    const held = allocations.get(subscriberKey(a.tenant_id, a.subscriber_id));
    for (const f of families) {
      const attr = radiusAttribute[f];
      const values = replies.filter((r) => r.attribute === attr).map((r) => canonical(f, r.value ?? ""));
      const ipam = allocationOf(held, f);
      const expected = ipam ? canonical(f, ipam.address) : null;
      if (values.length > 1) breach("radius-ips", a, `${attr} appears ${values.length} times (${values.join(", ")}); IPAM ${familyLabel[f]} ${expected ?? "none"}`);
      else if ((values[0] ?? null) !== expected) breach("radius-ips", a, `${attr} ${values[0] ?? "absent"}, IPAM ${familyLabel[f]} ${expected ?? "none"}`);
    }
  }

  for (const s of stores.subscribers) {
    const key = subscriberKey(s.tenant_id, s.subscriber_id);
    if (live.has(s.status)) checkLive(s, breach, { profiles, allocations, accounts, flows, billing, rowsOf });
    if (gone.has(s.status)) checkGone(s, breach, { profiles, allocations, accounts, flows, billing, rowsOf });
    // profile-ips: the live profile's addresses are IPAM's (statics as given, dynamic ones written back).
    const profile = profiles.get(key)?.find((p) => !p.deleted);
    if (live.has(s.status) && profile) {
      const held = allocations.get(key);
      for (const f of families) {
        const mine = profile.ips[f] === null ? null : canonical(f, profile.ips[f] ?? "");
        const ipam = allocationOf(held, f);
        const theirs = ipam ? canonical(f, ipam.address) : null;
        if (mine === theirs) continue;
        const detail = `${familyLabel[f]}: profile ${mine ?? "none"}, IPAM ${theirs ?? "none"}`;
        // The write-back follows IpAllocated on its own: not in yet is in flight for a while.
        if (mine === null && ipam && options.now - ipam.allocated_at <= options.graceMs) inFlight.push({ invariant: "profile-ips", tenant: s.tenant_id, subscriber: s.subscriber_id, detail: `${detail} (write-back pending)` });
        else breach("profile-ips", s, detail);
      }
    }
    // orders-terminal, as the subscriber service sees it: nothing stays in flight past the grace
    // period. A termination that stalled has ended its order (OrderFailed, SubscriberTeardownFailed):
    // it waits for a new terminate order, which is an operator's business, not a breach.
    if (s.pending?.stalled) {
      inFlight.push({ invariant: "orders-terminal", tenant: s.tenant_id, subscriber: s.subscriber_id, detail: `termination stalled at ${s.pending.stalled}; order ${s.pending.order_id} failed, waits for a new terminate order` });
      continue;
    }
    const unsettled = s.pending
      ? `${s.pending.order_type} order ${s.pending.order_id} in flight`
      : s.status === "provisioning" ? "provisioning" : s.status === "terminating" ? "terminating" : s.status === "failed" ? "failed, rollback not finished" : null;
    if (unsettled) {
      const quiet = options.now - s.last_progress_at;
      const detail = `${unsettled}, no progress for ${seconds(quiet)}`;
      if (quiet > options.graceMs) breach("orders-terminal", s, detail);
      else inFlight.push({ invariant: "orders-terminal", tenant: s.tenant_id, subscriber: s.subscriber_id, detail });
    }
  }

  // nothing-left, for what no subscriber of the subscriber service accounts for.
  const unknown = (tenant: string, subscriber: string) => !subscribers.has(subscriberKey(tenant, subscriber));
  const orphan = (s: { tenant_id: string; subscriber_id: string }, what: string) => breach("nothing-left", s, `${what}, for a subscriber the subscriber service does not know`);
  for (const a of stores.allocations) if (unknown(a.tenant_id, a.subscriber_id)) orphan(a, `IPAM holds ${familyLabel[a.family]} ${a.address}`);
  for (const a of stores.accounts) if (a.status !== "deleted" && unknown(a.tenant_id, a.subscriber_id)) orphan(a, `RADIUS account ${a.username} is ${a.status}`);
  for (const f of stores.flows) if (unknown(f.tenant_id, f.subscriber_id)) orphan(f, `service flow on ONU ${f.serial}`);
  for (const b of stores.billing) if (!billingEnded.has(b.status) && unknown(b.tenant_id, b.subscriber_id)) orphan(b, `billing record ${b.service_id} is ${b.status}`);
  for (const p of stores.profiles) if (!p.deleted && unknown(p.tenant_id, p.subscriber_id)) orphan(p, "live network profile");
  for (const [k, rows] of rowsByUser) {
    const first = rows[0];
    if (!first || accountByUser.has(k)) continue;
    breach("nothing-left", { tenant_id: first.tenant_id, subscriber_id: null }, `${describeRows(rows)} for username ${first.username}, which no RADIUS account has`);
  }
  return { breaches, inFlight };
}

interface Indexes {
  readonly profiles: Map<string, Stores["profiles"][number][]>;
  readonly allocations: Map<string, AllocationRecord[]>;
  readonly accounts: Map<string, Stores["accounts"][number][]>;
  readonly flows: Map<string, Stores["flows"][number][]>;
  readonly billing: Map<string, Stores["billing"][number][]>;
  readonly rowsOf: (tenant: string, username: string) => RadiusRow[];
}

type Breach = (invariant: Invariant, s: SubscriberRecord, detail: string) => void;

function describeRows(rows: readonly RadiusRow[]): string {
  return ["radcheck", "radreply", "radusergroup"]
    .map((t) => {
      const attrs = rows.filter((r) => r.table === t).map((r) => (t === "radusergroup" ? `group ${r.value ?? ""}` : r.attribute));
      return attrs.length > 0 ? `${t} (${attrs.join(", ")})` : null;
    })
    .filter((x) => x !== null)
    .join(", ");
}

/** active-complete: an active or suspended subscriber holds every part, each in the matching state. */
function checkLive(s: SubscriberRecord, breach: Breach, ix: Indexes): void {
  const key = subscriberKey(s.tenant_id, s.subscriber_id);
  const missing = (detail: string) => breach("active-complete", s, `${s.status}: ${detail}`);
  // While a suspend or resume is in flight the parts change one by one: their states are not compared then.
  const settled = s.pending === null;

  const profiles = ix.profiles.get(key) ?? [];
  if (!s.profile_skipped && !profiles.some((p) => !p.deleted)) missing(profiles.length > 0 ? "network profile is soft-deleted" : "no network profile");
  if ((ix.allocations.get(key) ?? []).length === 0) missing("no IP allocation in IPAM");

  const account = ix.accounts.get(key)?.[0];
  if (!account) missing("no RADIUS account");
  else if (account.status === "deleted") missing(`RADIUS account ${account.username} is deleted`);
  else {
    const rows = ix.rowsOf(s.tenant_id, account.username);
    const checks = rows.filter((r) => r.table === "radcheck");
    if (!checks.some((r) => r.attribute !== "Auth-Type")) missing(`RADIUS account ${account.username} has no password in radcheck`);
    if (!rows.some((r) => r.table === "radusergroup")) missing(`RADIUS account ${account.username} has no radusergroup row`);
    const rejected = checks.some((r) => r.attribute === "Auth-Type");
    if (settled && account.status !== s.status) missing(`RADIUS account ${account.username} is ${account.status}`);
    if (settled && s.status === "active" && rejected) missing(`RADIUS account ${account.username} has Auth-Type := Reject`);
    if (settled && s.status === "suspended" && account.suspend_mode === "reject" && !rejected) missing(`RADIUS account ${account.username} has no Auth-Type := Reject (suspend mode reject)`);
  }

  if (isFtth(s.connection_type)) {
    const flows = ix.flows.get(key) ?? [];
    const flow = flows[0];
    if (!flow) missing("no ONU service flow on the OLT");
    else if (flow.onu_state !== "active") missing(`ONU ${flow.serial} is ${flow.onu_state ?? "gone"}`);
    if (flows.length > 1) missing(`${flows.length} ONU service flows (${flows.map((f) => f.serial).join(", ")})`);
  }

  const bills = (ix.billing.get(key) ?? []).filter((b) => !billingEnded.has(b.status));
  if (bills.length === 0) missing("no billing record that charges");
  else if (bills.length > 1) missing(`${bills.length} billing records that charge (${bills.map((b) => b.service_id).join(", ")})`);
  else if (settled && bills[0]?.status !== s.status) missing(`billing record ${bills[0]?.service_id ?? ""} is ${bills[0]?.status ?? ""}`);
}

/** nothing-left: after a rollback or a termination only the soft-deleted profile remains. */
function checkGone(s: SubscriberRecord, breach: Breach, ix: Indexes): void {
  const key = subscriberKey(s.tenant_id, s.subscriber_id);
  const left = (detail: string) => breach("nothing-left", s, `${s.status === "archived" ? "terminated" : "rolled back"}: ${detail}`);
  for (const a of ix.allocations.get(key) ?? []) left(`IPAM still holds ${familyLabel[a.family]} ${canonical(a.family, a.address)}`);
  for (const a of ix.accounts.get(key) ?? []) {
    if (a.status !== "deleted") left(`RADIUS account ${a.username} is ${a.status}`);
    const rows = ix.rowsOf(s.tenant_id, a.username);
    if (rows.length > 0) left(`${describeRows(rows)} left for ${a.username}`);
  }
  for (const f of ix.flows.get(key) ?? []) left(`service flow on ONU ${f.serial} (ONU ${f.onu_state ?? "gone"})`);
  for (const b of ix.billing.get(key) ?? []) if (!billingEnded.has(b.status)) left(`billing record ${b.service_id} is ${b.status}`);
  if ((ix.profiles.get(key) ?? []).some((p) => !p.deleted)) left("network profile is not soft-deleted");
}
