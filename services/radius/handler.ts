// The thin part: with the shared view folded by the runtime, load the account when a decision may
// need it, ask the decisions, store, emit; inside the batch's unit of work (inbox + change + outbox).
import type { EventName, Message } from "../../schemas/generated/events.js";
import type { BatchReactor } from "../../shared/consumer.js";
import type { Logger } from "../../shared/logger.js";
import { mayCompensate } from "../../shared/progress.js";
import { keyString, viewReactor, type UnitScope } from "../../shared/reactor.js";
import { teardownDue } from "../../shared/teardown.js";
import { topics } from "../../shared/topics.js";
import { PoisonMessageError } from "../../shared/errors.js";
import { follow } from "../../shared/messages.js";
import type { Outgoing, Tx } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import type { SubscriberView } from "../../shared/subscriber-view.js";
import { newCredential } from "./adapters/credentials.js";
import { decideAccount, decideCompensation, decidePlanChange, decideResume, decideSuspend, decideTermination, describeAccount, type AccountState, type CoaIntent } from "./decide.js";
import { subscriberState } from "./store/schema.js";
import * as store from "./store/store.js";

/** What radius decides on beyond the shared view's events. */
export const triggers = ["SubscriberSuspendRequested", "SubscriberResumeRequested"] as const satisfies readonly EventName[];

/**
 * On IpAllocated creates the account; suspends, resumes and changes plans on request; deletes it
 * when the rollback or the teardown reaches radius. The account is read only when one of those
 * can happen; the runtime has folded the shared view.
 */
export function radiusReactor(deps: ServiceDeps, onCoa: () => void = () => undefined): BatchReactor {
  return viewReactor<null>({ ...deps, topic: topics.lifecycle }, {
    initial: null,
    table: subscriberState,
    triggers,
    quiet: ({ message, view }) => (view === null ? (message.type === "IpAllocated" ? undefined : null) : mayAct(message, view) ? undefined : null),
    // The accounts the unit's account events will read, and the open sessions of those that
    // suspend, resume or change plan: two statements for the unit instead of two per event.
    async prefetch({ tx, unit, messages }) {
      const wanted = messages.filter((m) => accountEvents.has(m.type)).map((m) => ({ tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" }));
      if (wanted.length === 0) return;
      const ahead = readAhead(unit);
      const accounts = await store.accountsOf(tx, wanted);
      for (const k of wanted) ahead.accounts.set(keyString(k), accounts.get(keyString(k)) ?? null);
      const users = messages.flatMap((m) => {
        const a = coaEvents.has(m.type) ? accounts.get(keyString({ tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" })) : undefined;
        return a ? [{ tenantId: m.meta.tenant_id, username: a.username }] : [];
      });
      const sessions = await store.openSessions(tx, users);
      for (const u of users) ahead.sessions.set(`${u.tenantId}\u0000${u.username}`, sessions.get(`${u.tenantId}\u0000${u.username}`) ?? null);
    },
    async react({ tx, unit, message, key, view, log }) {
      // A tenant's plans, suspension policy and group replies are read once per unit of work, not once per subscriber.
      const tenantRead: TenantReads = {
        plan: (tenantId, planId) => unit.get(`plan\u0000${tenantId}\u0000${planId}`, () => store.findPlan(tx, tenantId, planId)),
        policy: (tenantId) => unit.get(`policy\u0000${tenantId}`, () => store.findPolicy(tx, tenantId)),
        groupReply: (tenantId, group) => unit.get(`group\u0000${tenantId}\u0000${group}`, () => store.groupReplyItems(tx, tenantId, group)),
      };
      return { out: await react(deps, tx, message, key.subscriber_id, view, log, () => unit.onCommit(onCoa), tenantRead, readAhead(unit)) };
    },
  });
}

/** The events radius may act on (with the view folded); any other only moves the view. */
const mayAct = (message: Message, view: SubscriberView): boolean =>
  accountEvents.has(message.type) || teardownDue(view, "radius") || mayCompensate(view.progress, "radius");

/** The events that read the account, and those of them that may send a CoA. */
const coaEvents = new Set<EventName>(["SubscriberSuspendRequested", "SubscriberResumeRequested", "SubscriberPlanChangeRequested", "SubscriberPlanChangeFailed"]);
const accountEvents = new Set<EventName>(["IpAllocated", ...coaEvents]);

interface TenantReads {
  plan(tenantId: string, planId: string): ReturnType<typeof store.findPlan>;
  policy(tenantId: string): ReturnType<typeof store.findPolicy>;
  groupReply(tenantId: string, group: string): ReturnType<typeof store.groupReplyItems>;
}

/**
 * Rows read ahead for a unit of work (prefetch), each taken once: the first event of a
 * subscriber that needs its account or session takes the row read ahead (the unit's writes so
 * far never touched it), a later one reads the database, which has those writes.
 */
class ReadAhead {
  readonly accounts = new Map<string, AccountState | null>();
  readonly sessions = new Map<string, store.OpenSession | null>();

  async account(tx: Tx, tenantId: string, subscriberId: string): Promise<AccountState | null> {
    const ks = keyString({ tenant_id: tenantId, subscriber_id: subscriberId });
    const got = this.accounts.get(ks);
    if (got === undefined) return store.findAccount(tx, tenantId, subscriberId);
    this.accounts.delete(ks);
    return got;
  }

  async session(tx: Tx, tenantId: string, username: string): Promise<store.OpenSession | null> {
    const k = `${tenantId}\u0000${username}`;
    const got = this.sessions.get(k);
    if (got === undefined) return store.openSession(tx, tenantId, username);
    this.sessions.delete(k);
    return got;
  }
}

const readAhead = (unit: UnitScope): ReadAhead => unit.get("radius-read-ahead", () => new ReadAhead());

async function react(
  deps: ServiceDeps,
  tx: Tx,
  message: Message,
  subscriberId: string,
  view: SubscriberView | null,
  log: Logger,
  coaQueued: () => void,
  tenantRead: TenantReads,
  ahead: ReadAhead,
): Promise<Outgoing[]> {
  const tenantId = message.meta.tenant_id;
  const planOf = tenantRead.plan;

  /** A CoA / Disconnect to the NAS of the open session, written with the account change; no session → recorded (and reported) at once. */
  const queueCoa = async (tx: Tx, username: string, intent: CoaIntent): Promise<Outgoing[]> => {
    const found = await ahead.session(tx, tenantId, username);
    // A session on a NAS the registry does not know: nothing can be sent, and the session goes on
    // running at the old state; recorded as its own outcome (the subscriber shows degraded).
    const unknownNas = found !== null && found.nasId === null ? found : null;
    const session = unknownNas ? null : found;
    const attributes: Record<string, string> = { "User-Name": username };
    if (session?.framedIp) attributes["Framed-IP-Address"] = session.framedIp;
    if (session) attributes["Acct-Session-Id"] = session.sessionId;
    Object.assign(attributes, intent.attributes);
    const inserted = await store.insertCoa(tx, {
      id: deps.ctx.newId(),
      tenantId,
      subscriberId,
      username,
      kind: intent.kind,
      nasId: session?.nasId ?? null,
      attributes,
      causeEventId: message.meta.event_id,
      correlationId: message.meta.correlation_id,
      status: session ? "pending" : unknownNas ? "unknown_nas" : "no_session",
    });
    if (!inserted) return [];
    if (unknownNas) {
      log.warn({ kind: intent.kind, username, nas_address: unknownNas.nasAddress }, "the open session runs on a NAS that is not registered: nothing sent, the session keeps its old state");
      return [{ message: follow(deps.ctx, message, "RadiusCoaCompleted", { username, kind: intent.kind, nas_id: null, nas_address: unknownNas.nasAddress, outcome: "unknown_nas", error_cause: null, attempts: 0 }) }];
    }
    if (session) {
      coaQueued();
      log.info({ kind: intent.kind, nas_id: session.nasId, username }, "CoA request queued for the NAS of the open session");
      return [];
    }
    log.info({ kind: intent.kind, username }, "no open session on a registered NAS: nothing to cut");
    return [{ message: follow(deps.ctx, message, "RadiusCoaCompleted", { username, kind: intent.kind, nas_id: null, nas_address: null, outcome: "no_session", error_cause: null, attempts: 0 }) }];
  };

  if (!view) {
    if (message.type === "IpAllocated") throw new PoisonMessageError("invalid", "IpAllocated for a subscriber whose SubscriberCreated this service never saw");
    log.debug("no SubscriberCreated seen for this subscriber: event skipped");
    return [];
  }
  if (!mayAct(message, view)) return [];
  let account = await ahead.account(tx, tenantId, subscriberId);
  const out: Outgoing[] = [];

  if (message.type === "IpAllocated") {
    const plan = await planOf(tenantId, view.service_plan_id);
    const decision = decideAccount(view, account, plan, message, deps.ctx);
    switch (decision.kind) {
      case "skip":
        log.info({ why: decision.why }, "no RADIUS account to create");
        break;
      case "fail":
        log.warn({ code: decision.events[0].data.code, reason: decision.events[0].data.reason }, "RADIUS account creation failed");
        out.push(...decision.events.map((m) => ({ message: m })));
        break;
      case "create": {
        // The first password is held (never logged, never in an event) until an operator retrieves it once over the admin route.
        const { check, password: firstPassword } = newCredential();
        await store.createAccount(tx, { tenantId, subscriberId, username: decision.username, planGroup: decision.planGroup, check, firstPassword, reply: decision.reply });
        account = { username: decision.username, status: "active", planGroup: decision.planGroup };
        const { fields, msg } = describeAccount(decision.username, view.network, message.data.ips);
        log.info({ ...fields, plan_group: decision.planGroup, ipv6_mode: view.network.ipv6_assignment_mode, bandwidth_mbps: view.bandwidth_mbps }, msg);
        out.push(...decision.events.map((m) => ({ message: m })));
        break;
      }
      default:
        decision satisfies never;
    }
  }

  if (message.type === "SubscriberSuspendRequested") {
    const network = message.data.network;
    log.info(
      { network_profile_id: message.data.network_profile_id, vlan: network?.service_vlan ?? null, inner_vlan: network?.inner_vlan ?? null, ipv6_mode: network?.ipv6_assignment_mode ?? null },
      `Loaded network profile for subscriber ${subscriberId}`,
    );
    const policy = await tenantRead.policy(tenantId);
    const wgItems = policy.walledGardenGroup ? await tenantRead.groupReply(tenantId, policy.walledGardenGroup) : [];
    const d = decideSuspend(account, policy, wgItems, message, deps.ctx);
    if (d.kind === "skip") log.info({ why: d.why }, "nothing to suspend");
    else {
      await store.suspendAccount(tx, tenantId, subscriberId, d.username, d.mode, d.group);
      log.info({ username: d.username, mode: d.mode, group: d.group }, `Suspended RADIUS account: ${d.username}`);
      out.push(...d.events.map((m) => ({ message: m })), ...(await queueCoa(tx, d.username, d.coa)));
    }
  }

  if (message.type === "SubscriberResumeRequested") {
    const planItems = account ? await tenantRead.groupReply(tenantId, account.planGroup) : [];
    const d = decideResume(account, planItems, message, deps.ctx);
    if (d.kind === "skip") log.info({ why: d.why }, "nothing to resume");
    else {
      await store.resumeAccount(tx, tenantId, subscriberId, d.username, d.mode, d.planGroup);
      log.info({ username: d.username, mode: d.mode }, `Resumed RADIUS account: ${d.username}`);
      out.push(...d.events.map((m) => ({ message: m })));
      if (d.coa) out.push(...(await queueCoa(tx, d.username, d.coa)));
    }
  }

  if (message.type === "SubscriberPlanChangeRequested" || message.type === "SubscriberPlanChangeFailed") {
    const plan = await planOf(tenantId, message.data.service_plan_id);
    const d = decidePlanChange(account, plan, message, deps.ctx);
    if (d.kind === "skip") log.info({ why: d.why }, "no plan change");
    else if (d.kind === "fail") {
      log.warn({ code: d.events[0].data.code, reason: d.events[0].data.reason }, "RADIUS plan change failed");
      out.push(...d.events.map((m) => ({ message: m })));
    } else {
      await store.changePlan(tx, tenantId, subscriberId, d.username, d.planGroup, d.moveGroup);
      const reverts = d.events[0].data.reverts_order_id;
      log.info({ username: d.username, plan_group: d.planGroup, rate_limit: d.rateLimit, reverts_order_id: reverts }, `${reverts ? "Put back" : "Changed"} RADIUS plan: ${d.username} -> ${d.planGroup}`);
      out.push(...d.events.map((m) => ({ message: m })));
      if (d.coa) out.push(...(await queueCoa(tx, d.username, d.coa)));
    }
  }

  const termination = decideTermination(view, account, message, deps.ctx);
  if (termination.kind === "delete") {
    // The session is looked up before the rows go (radacct is untouched by the deletion anyway).
    const coa = await queueCoa(tx, termination.username, termination.coa);
    await store.deleteAccount(tx, tenantId, subscriberId, termination.username);
    account = { ...(account ?? { planGroup: "" }), username: termination.username, status: "deleted" };
    log.info({ username: termination.username }, `Deleted RADIUS account: ${termination.username} (terminated)`);
    out.push(...termination.events.map((m) => ({ message: m })), ...coa);
  }

  const compensation = decideCompensation(view, account, message, deps.ctx);
  if (compensation.kind === "delete") {
    await store.deleteAccount(tx, tenantId, subscriberId, compensation.username);
    log.info({ username: compensation.username, failure: view.progress.failure }, `Deleted RADIUS account: ${compensation.username} (rollback)`);
    out.push(...compensation.events.map((m) => ({ message: m })));
  }
  return out;
}
