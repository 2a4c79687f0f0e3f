// ipam's reaction to the lifecycle: the runtime (shared/reactor.ts) loads the subscriber's view
// and ipam's own state for a whole batch, folds each event into the view; here ipam decides,
// carries out the decision in the store, folds its own outgoing events in, and returns them.
import type { Message } from "../../schemas/generated/events.js";
import { mayCompensate } from "../../shared/progress.js";
import { viewReactor, type UnitScope } from "../../shared/reactor.js";
import { teardownDue } from "../../shared/teardown.js";
import { topics } from "../../shared/topics.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Tx } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import { allocated, allocationFailed, evolve, evolveOwn, initialOwn, InvalidInput, planAllocation, planRelease, released, type Held, type IpamOwn, type IpamState, type Trigger } from "./decide.js";
import { keyString } from "../../shared/reactor.js";
import { AllocationFailure, bindAtCursors, carryOut, Cursors, heldBy, heldByAll, releaseAll } from "./store/allocator.js";
import { loadPoolInfos } from "./store/pools.js";
import { subscriberState } from "./store/schema.js";

const isTrigger = (m: Message): m is Trigger => m.type === "NetworkProfileCreated" || m.type === "NetworkProfileSkipped";

function logAllocation(log: Logger, trigger: Trigger, got: readonly Held[], source: string): void {
  const of = (f: Held["family"]) => got.find((h) => h.family === f)?.address ?? null;
  const ips = { ipv4: of("ipv4"), ipv6: of("ipv6"), ipv6_prefix: of("ipv6_pd"), source };
  if (source === "network_profile") log.info(ips, "Using static IPs from network profile");
  else if (source === "order_static") log.info(ips, "Using static IPs from order data");
  else if (ips.ipv6 || ips.ipv6_prefix) log.info({ ...ips, mode: trigger.type === "NetworkProfileCreated" ? trigger.data.profile.config.ipv6_assignment_mode : trigger.data.network.ipv6_assignment_mode }, "Allocated dual-stack IPs");
  else log.info(ips, "Allocated IPs");
}

/**
 * What the subscriber holds, from the unit of work's map (read for all its triggers at once by
 * prefetch, kept up to date by the unit's own binds and releases), else read now.
 */
async function held(tx: Tx, unit: UnitScope, tenant: string, subscriber: string): Promise<Held[]> {
  const known = unit.get("held", () => new Map<string, Held[]>());
  const ks = keyString({ tenant_id: tenant, subscriber_id: subscriber });
  const got = known.get(ks);
  if (got) return got;
  const now = await heldBy(tx, tenant, subscriber);
  known.set(ks, now);
  return now;
}

const setHeld = (unit: UnitScope, tenant: string, subscriber: string, h: Held[]): void => {
  unit.get("held", () => new Map<string, Held[]>()).set(keyString({ tenant_id: tenant, subscriber_id: subscriber }), h);
};

async function allocate(deps: ServiceDeps, tx: Tx, trigger: Trigger, state: IpamState, log: Logger, cursors: Cursors, unit: UnitScope): Promise<Message[]> {
  const { tenant_id: tenant, subscriber_id: sub } = trigger.meta;
  const subscriber = sub ?? "";
  // A tenant's pools are read once per unit of work (their cursors are locked apart, by Cursors).
  const tenantPools = await unit.get(`pools\u0000${tenant}`, () => loadPoolInfos(tx, tenant));
  let plan;
  try {
    plan = planAllocation(trigger, state, await held(tx, unit, tenant, subscriber), tenantPools);
  } catch (err) {
    if (err instanceof InvalidInput) throw new PoisonMessageError("invalid", err.message);
    throw err;
  }
  if (plan.kind === "nothing") {
    log.info({ why: plan.why }, "no allocation needed");
    return [];
  }
  if (plan.kind === "fail") {
    log.warn({ code: plan.failure.code, reason: plan.failure.reason }, "IP allocation failed");
    return [allocationFailed(deps.ctx, trigger, plan.failure)];
  }
  // The pools' rows are locked in the unit's transaction, before the savepoint.
  await cursors.prepare(tenant, plan.items);
  const before = cursors.snapshot();
  try {
    // Most plans are bound in one statement; else a savepoint: a family that fails after another was bound leaves nothing bound.
    const got =
      (await bindAtCursors(tx, tenant, subscriber, plan.items, cursors)) ??
      (await tx.transaction((stx) => carryOut(stx, tenant, subscriber, plan.items, cursors)));
    setHeld(unit, tenant, subscriber, [...(await held(tx, unit, tenant, subscriber)), ...got]);
    logAllocation(log, trigger, got, plan.source);
    return [allocated(deps.ctx, trigger, got, plan.source)];
  } catch (err) {
    cursors.restore(before);
    if (!(err instanceof AllocationFailure)) throw err;
    log.warn({ code: err.failure.code, reason: err.failure.reason }, "IP allocation failed");
    return [allocationFailed(deps.ctx, trigger, err.failure)];
  }
}

/** Whether ipam may have to release what the subscriber holds now. */
const releaseDue = (state: IpamState): boolean => mayCompensate(state.progress, "ipam") || (state.view !== null && teardownDue(state.view, "ipam"));

/**
 * ipam's reaction to one event (the runtime has folded the shared view): allocate on the two
 * triggers, release when the rollback or the teardown reaches ipam. The allocations table is
 * read only when one of those can happen.
 */
export function reactor(deps: ServiceDeps): BatchReactor {
  return viewReactor<IpamOwn>({ ...deps, topic: topics.lifecycle }, {
    initial: initialOwn,
    table: subscriberState,
    // Neither a trigger nor a release due: the event only moves the view and ipam's own part.
    quiet: ({ message, view, state: own }) => {
      if (isTrigger(message)) return undefined;
      const next = evolveOwn(own, message);
      return releaseDue({ view, ...next }) ? undefined : next;
    },
    // The triggers' subscribers' allocations, in one statement for the unit of work.
    async prefetch({ tx, unit, messages }) {
      const keys = new Map(messages.filter(isTrigger).map((m) => [keyString({ tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" }), { tenant_id: m.meta.tenant_id, subscriber_id: m.meta.subscriber_id ?? "" }]));
      if (keys.size === 0) return;
      const known = unit.get("held", () => new Map<string, Held[]>());
      for (const [ks, h] of await heldByAll(tx, [...keys.values()])) known.set(ks, h);
    },
    async react({ tx, unit, message, key, view, state: own, log }) {
      const { tenant_id: tenant, subscriber_id: subscriber } = key;
      const cursors = unit.get("pool-cursors", () => {
        const c = new Cursors(tx);
        unit.beforeCommit(() => c.flush());
        return c;
      });
      // The runtime folded the view; ipam's own part folds here.
      let state: IpamState = { view, ...evolveOwn(own, message) };
      const out: Message[] = isTrigger(message) ? await allocate(deps, tx, message, state, log, cursors, unit) : [];
      for (const m of out) state = evolve(state, m);
      const mayRelease = releaseDue(state);
      const release = mayRelease ? planRelease(state, await held(tx, unit, tenant, subscriber)) : null;
      if (release) {
        await cursors.flush(); // a released unit goes on the free list when it lies below the cursor as written
        const gone = await releaseAll(tx, tenant, subscriber);
        setHeld(unit, tenant, subscriber, []);
        const m = released(deps.ctx, message, gone, release.reason);
        log.info({ ips: m.data.ips, reason: release.reason }, "Released IPs");
        out.push(m);
        state = evolve(state, m);
      }
      const { view: _folded, ...next } = state;
      return { state: next, out: out.map((m) => ({ message: m })) };
    },
  });
}
