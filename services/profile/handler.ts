// Thin reaction: with the shared view folded by the runtime, load the profile and QinQ pair owner
// when a decision may need them, ask decide, apply the decision to the store and emit its event,
// inside the batch's unit of work.
import type { Message } from "../../schemas/generated/events.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { mayCompensate } from "../../shared/progress.js";
import { keyString, viewReactor, type UnitScope } from "../../shared/reactor.js";
import { teardownDue } from "../../shared/teardown.js";
import { topics } from "../../shared/topics.js";
import type { Logger } from "../../shared/logger.js";
import type { Outgoing, Tx } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import type { SubscriberView } from "../../shared/subscriber-view.js";
import { decide, skip, vlanInUse, type Decision, type ProfileSettings, type StoredProfile } from "./decide.js";
import { configOf, getBySubscriber, profilesOf, qinqPairHolders, qinqPairOwner, softDelete, storeProfile, writebackIps, type ProfileRow } from "./store/profiles.js";
import { subscriberState } from "./store/schema.js";

const stored = (r: ProfileRow): StoredProfile => ({
  network_profile_id: r.id,
  config: configOf(r),
  metadata: r.metadata,
  deleted: r.deletedAt !== null,
});

/**
 * The constraint a PostgreSQL error reports (integrity violation, class 23, or bad data, class
 * 22), or null for anything else: those are transient (a lost connection, ...) and are thrown.
 */
export function constraintViolation(err: unknown): string | null {
  for (let e: unknown = err; typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code, constraint_name, message } = e as { code?: unknown; constraint_name?: unknown; message?: unknown };
    if (typeof code === "string" && /^2[23]/.test(code)) {
      return typeof constraint_name === "string" && constraint_name ? `constraint ${constraint_name} violated` : `invalid profile data: ${String(message)}`;
    }
  }
  return null;
}

const vlanText = (s: StoredProfile | { config: { service_vlan: number | null; inner_vlan: number | null; qinq_enabled: boolean } }): string =>
  s.config.qinq_enabled && s.config.inner_vlan !== null ? `${s.config.service_vlan}/${s.config.inner_vlan}` : String(s.config.service_vlan);

const pairKey = (tenant: string, serviceVlan: number, innerVlan: number): string => `${tenant}\u0000${serviceVlan}\u0000${innerVlan}`;

/**
 * The rows one unit of work's decisions read, read for the whole unit at once (prefetch) and kept
 * up to date by its own writes: the subscribers' profiles (null: none), and the live QinQ pairs'
 * holders. What was not read ahead is read when asked for.
 */
class UnitProfiles {
  readonly profiles = new Map<string, ProfileRow | null>();
  readonly pairs = new Map<string, Set<string>>();
  /**
   * Subscribers whose provisioning failure is already in the unit, after their SubscriberCreated:
   * the profile service catching up after an outage creates no profile for them (one it created
   * would only be rolled back, and would hold its QinQ pair from a live subscriber meanwhile).
   */
  readonly failedLater = new Set<string>();

  async profile(tx: Tx, tenant: string, subscriber: string): Promise<ProfileRow | null> {
    const ks = keyString({ tenant_id: tenant, subscriber_id: subscriber });
    if (this.profiles.has(ks)) return this.profiles.get(ks) ?? null;
    const row = await getBySubscriber(tx, tenant, subscriber, { includeDeleted: true });
    this.profiles.set(ks, row);
    return row;
  }

  async pairOwner(tx: Tx, tenant: string, serviceVlan: number, innerVlan: number, except: string): Promise<string | null> {
    const holders = this.pairs.get(pairKey(tenant, serviceVlan, innerVlan));
    if (!holders) return qinqPairOwner(tx, tenant, serviceVlan, innerVlan, except);
    for (const h of holders) if (h !== except) return h;
    return null;
  }

  /** After a write: the row as it is now, and the pair it holds while live. */
  wrote(before: ProfileRow | null, row: ProfileRow): void {
    this.profiles.set(keyString({ tenant_id: row.tenantId, subscriber_id: row.subscriberId }), row);
    const hold = (r: ProfileRow, on: boolean) => {
      if (!r.qinqEnabled || r.serviceVlan === null || r.innerVlan === null) return;
      const holders = this.pairs.get(pairKey(r.tenantId, r.serviceVlan, r.innerVlan));
      if (!holders) return; // not read ahead: asked of the database, which has the write
      if (on) holders.add(r.subscriberId);
      else holders.delete(r.subscriberId);
    };
    if (before && before.deletedAt === null) hold(before, false);
    if (row.deletedAt === null) hold(row, true);
  }
}

const unitProfiles = (unit: UnitScope): UnitProfiles => unit.get("profiles", () => new UnitProfiles());

async function apply(tx: Tx, d: Decision, m: Message, deps: ServiceDeps, log: Logger, cache: UnitProfiles, before: ProfileRow | null): Promise<readonly Outgoing[]> {
  const tenant = m.meta.tenant_id;
  const subscriber = m.meta.subscriber_id ?? "";
  switch (d.kind) {
    case "none":
      log.debug({ why: d.why }, "nothing to do");
      return [];
    case "create": {
      log.info("Creating network profile");
      try {
        // A savepoint: a rejected row leaves the transaction usable for the Skipped event.
        const row = await tx.transaction((sp) => storeProfile(sp, tenant, subscriber, d.profile.config, { ...d.profile.metadata }, d.profile.network_profile_id));
        cache.wrote(before, row);
      } catch (err) {
        const reason = constraintViolation(err);
        if (!reason || m.type !== "SubscriberCreated") throw err;
        // The pair taken in the meantime (another process's unit): the order fails as when it was taken before.
        if (reason.includes("subscriber_network_profiles_qinq_pair")) {
          const c = d.profile.config;
          return apply(tx, vlanInUse(deps.ctx, m, `QinQ VLAN pair ${c.service_vlan}/${c.inner_vlan} already belongs to another subscriber of the tenant`), m, deps, log, cache, before);
        }
        return apply(tx, skip(deps.ctx, m, reason, "not_stored"), m, deps, log, cache, before);
      }
      const c = d.profile.config;
      log.info(
        { network_profile_id: d.profile.network_profile_id, service_vlan: c.service_vlan, inner_vlan: c.inner_vlan, ipv6_assignment_mode: c.ipv6_assignment_mode },
        `Created network profile: ${d.profile.network_profile_id} for subscriber ${subscriber} (VLAN: ${vlanText(d.profile)}, IPv6 mode: ${c.ipv6_assignment_mode})`,
      );
      return [{ message: d.event }];
    }
    case "skip":
      log.warn({ reason: d.event.data.reason }, "Network profile skipped; provisioning goes on from the order's network settings");
      return [{ message: d.event }];
    case "fail":
      log.warn({ code: d.event.data.code, reason: d.event.data.reason }, "Network profile refused; provisioning fails at the profile step");
      return [{ message: d.event }];
    case "writeback": {
      const row = await writebackIps(tx, tenant, subscriber, d.ips);
      if (!row) return [];
      cache.wrote(before, row);
      log.info({ ...d.ips, network_profile_id: row.id }, `Wrote allocated IPs back to network profile for subscriber ${subscriber}`);
      return [{ message: d.event }];
    }
    case "soft-delete": {
      log.info({ reason: d.event.data.reason }, `Deleting network profile for subscriber: ${subscriber}`);
      const row = await softDelete(tx, tenant, subscriber);
      if (!row) return [];
      cache.wrote(before, row);
      log.info(
        { network_profile_id: row.id, service_vlan: row.serviceVlan, reason: d.event.data.reason },
        `Network profile deleted for subscriber ${subscriber} (VLAN: ${vlanText(d.profile)}, profile ID: ${row.id})`,
      );
      return [{ message: d.event }];
    }
  }
}

/** The events the profile service may act on; any other only moves the view. */
const mayAct = (m: Message, view: SubscriberView | null): boolean =>
  m.type === "SubscriberCreated" || m.type === "IpAllocated" || (view !== null && (teardownDue(view, "profile") || mayCompensate(view.progress, "profile")));

/** What the profile service decides on: the shared view's events (no triggers of its own); its state is the profile table. */
export function profileReactor(deps: ServiceDeps, settings: ProfileSettings): BatchReactor {
  return viewReactor<null>({ ...deps, topic: topics.lifecycle }, {
    initial: null,
    table: subscriberState,
    quiet: ({ message, view }) => (mayAct(message, view) ? undefined : null),
    // The profiles of the unit's new subscribers and of its write-backs, and the holders of the
    // new subscribers' QinQ pairs: two statements for the unit instead of up to three per event.
    async prefetch({ tx, unit, messages }) {
      const keys = messages.filter((m) => m.type === "SubscriberCreated" || m.type === "IpAllocated").map((m) => ({ tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" }));
      if (keys.length === 0) return;
      const cache = unitProfiles(unit);
      for (const m of messages) if (m.type === "SubscriberProvisioningFailed") cache.failedLater.add(keyString({ tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" }));
      const rows = await profilesOf(tx, keys);
      for (const k of keys) cache.profiles.set(keyString(k), rows.get(keyString(k)) ?? null);
      const pairs = messages.flatMap((m) =>
        m.type === "SubscriberCreated" && m.data.network.qinq_enabled && m.data.network.service_vlan !== null && m.data.network.inner_vlan !== null
          ? [{ tenantId: m.meta.tenant_id, serviceVlan: m.data.network.service_vlan, innerVlan: m.data.network.inner_vlan }]
          : [],
      );
      for (const x of pairs) cache.pairs.set(pairKey(x.tenantId, x.serviceVlan, x.innerVlan), new Set());
      for (const h of await qinqPairHolders(tx, pairs)) cache.pairs.get(pairKey(h.tenantId, h.serviceVlan, h.innerVlan))?.add(h.subscriberId);
    },
    async react({ tx, unit, message: m, key, view, viewBefore, log }) {
      const { tenant_id: tenant, subscriber_id: subscriber } = key;
      // The profile row matters only to these decisions; any other event costs no query.
      if (!mayAct(m, view)) return {};
      const cache = unitProfiles(unit);
      if (m.type === "SubscriberCreated" && cache.failedLater.has(keyString(key))) {
        log.info("provisioning failed later in the log (this service was behind): no profile to create");
        return {};
      }
      const row = await cache.profile(tx, tenant, subscriber);
      const n = m.type === "SubscriberCreated" ? m.data.network : null;
      const vlanOwner =
        n?.qinq_enabled && n.service_vlan !== null && n.inner_vlan !== null
          ? await cache.pairOwner(tx, tenant, n.service_vlan, n.inner_vlan, subscriber)
          : null;
      const { decision } = decide({ view: viewBefore, profile: row ? stored(row) : null, vlanOwner }, m, deps.ctx, settings);
      return { out: await apply(tx, decision, m, deps, log, cache, row) };
    },
  });
}
