// Thin reaction: with the shared view folded by the runtime, load the profile and QinQ pair owner
// when a decision may need them, ask decide, apply the decision to the store and emit its event,
// inside the batch's unit of work.
import type { Message } from "../../schemas/generated/events.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { mayCompensate } from "../../shared/progress.js";
import { viewReactor } from "../../shared/reactor.js";
import { teardownDue } from "../../shared/teardown.js";
import { topics } from "../../shared/topics.js";
import type { Logger } from "../../shared/logger.js";
import type { Outgoing, Tx } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import { decide, skip, type Decision, type ProfileSettings, type StoredProfile } from "./decide.js";
import { configOf, getBySubscriber, qinqPairOwner, softDelete, upsertProfile, writebackIps, type ProfileRow } from "./store/profiles.js";
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

async function apply(tx: Tx, d: Decision, m: Message, deps: ServiceDeps, log: Logger): Promise<readonly Outgoing[]> {
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
        await tx.transaction((sp) => upsertProfile(sp, tenant, subscriber, { ...d.profile.config, metadata: d.profile.metadata }, d.profile.network_profile_id));
      } catch (err) {
        const reason = constraintViolation(err);
        if (!reason || m.type !== "SubscriberCreated") throw err;
        return apply(tx, skip(deps.ctx, m, reason), m, deps, log);
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
    case "writeback": {
      const row = await writebackIps(tx, tenant, subscriber, d.ips);
      if (!row) return [];
      log.info({ ...d.ips, network_profile_id: row.id }, `Wrote allocated IPs back to network profile for subscriber ${subscriber}`);
      return [{ message: d.event }];
    }
    case "soft-delete": {
      log.info({ reason: d.event.data.reason }, `Deleting network profile for subscriber: ${subscriber}`);
      const row = await softDelete(tx, tenant, subscriber);
      if (!row) return [];
      log.info(
        { network_profile_id: row.id, service_vlan: row.serviceVlan, reason: d.event.data.reason },
        `Network profile deleted for subscriber ${subscriber} (VLAN: ${vlanText(d.profile)}, profile ID: ${row.id})`,
      );
      return [{ message: d.event }];
    }
  }
}

/** What the profile service decides on: the shared view's events (no triggers of its own); its state is the profile table. */
export function profileReactor(deps: ServiceDeps, settings: ProfileSettings): BatchReactor {
  return viewReactor<null>({ ...deps, topic: topics.lifecycle }, {
    initial: null,
    table: subscriberState,
    async react({ tx, message: m, key, view, viewBefore, log }) {
      const { tenant_id: tenant, subscriber_id: subscriber } = key;
      // The profile row matters only to these decisions; any other event costs no query.
      const mayAct =
        m.type === "SubscriberCreated" ||
        m.type === "IpAllocated" ||
        (view !== null && (teardownDue(view, "profile") || mayCompensate(view.progress, "profile")));
      if (!mayAct) return {};
      const row = await getBySubscriber(tx, tenant, subscriber, { includeDeleted: true });
      const n = m.type === "SubscriberCreated" ? m.data.network : null;
      const vlanOwner =
        n?.qinq_enabled && n.service_vlan !== null && n.inner_vlan !== null
          ? await qinqPairOwner(tx, tenant, n.service_vlan, n.inner_vlan, subscriber)
          : null;
      const { decision } = decide({ view: viewBefore, profile: row ? stored(row) : null, vlanOwner }, m, deps.ctx, settings);
      return { out: await apply(tx, decision, m, deps, log) };
    },
  });
}
