// The events ipam reacts to, each through one unit of work: load the subscriber's state, fold
// the event in, decide, carry out the decision in the store, fold our own outgoing events in,
// save, emit. Every other event type is skipped by the runner.
import type { EventName, Message } from "../../schemas/generated/events.js";
import type { Handler, Handlers } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Tx } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import { allocated, allocationFailed, evolve, InvalidInput, planAllocation, planRelease, released, type Held, type IpamState, type Trigger } from "./decide.js";
import { AllocationFailure, carryOut, heldBy, releaseAll } from "./store/allocator.js";
import { loadPools, poolInfo } from "./store/pools.js";
import { loadState, saveState } from "./store/subscribers.js";

/** Lifecycle events that change what ipam knows (view, progress); the two triggers also allocate. */
const reactsTo = [
  "SubscriberCreated",
  "NetworkProfileCreated",
  "NetworkProfileSkipped",
  "NetworkProfileUpdated",
  "NetworkProfileDeleted",
  "IpAllocated",
  "IpReleased",
  "RadiusAccountCreated",
  "RadiusAccountDeleted",
  "OnuActivated",
  "OnuDeactivated",
  "BillingServiceCreated",
  "BillingServiceCancelled",
  "BillingServiceTerminated",
  "SubscriberProvisioningFailed",
  "SubscriberProvisioned",
  "SubscriberPlanChangeRequested",
  "SubscriberSuspended",
  "SubscriberResumed",
  "SubscriberTerminationRequested",
  "SubscriberArchived",
] as const satisfies readonly EventName[];

const isTrigger = (m: Message): m is Trigger => m.type === "NetworkProfileCreated" || m.type === "NetworkProfileSkipped";

function logAllocation(log: Logger, trigger: Trigger, got: readonly Held[], source: string): void {
  const of = (f: Held["family"]) => got.find((h) => h.family === f)?.address ?? null;
  const ips = { ipv4: of("ipv4"), ipv6: of("ipv6"), ipv6_prefix: of("ipv6_pd"), source };
  if (source === "network_profile") log.info(ips, "Using static IPs from network profile");
  else if (source === "order_static") log.info(ips, "Using static IPs from order data");
  else if (ips.ipv6 || ips.ipv6_prefix) log.info({ ...ips, mode: trigger.type === "NetworkProfileCreated" ? trigger.data.profile.config.ipv6_assignment_mode : trigger.data.network.ipv6_assignment_mode }, "Allocated dual-stack IPs");
  else log.info(ips, "Allocated IPs");
}

async function allocate(deps: ServiceDeps, tx: Tx, trigger: Trigger, state: IpamState, log: Logger): Promise<Message[]> {
  const { tenant_id: tenant, subscriber_id: sub } = trigger.meta;
  const subscriber = sub ?? "";
  const tenantPools = await loadPools(tx, tenant);
  let plan;
  try {
    plan = planAllocation(trigger, state, await heldBy(tx, tenant, subscriber), tenantPools.map(poolInfo));
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
  try {
    // A savepoint: a family that fails after another was bound leaves nothing bound.
    const got = await tx.transaction((stx) => carryOut(stx, tenant, subscriber, plan.items, tenantPools));
    logAllocation(log, trigger, got, plan.source);
    return [allocated(deps.ctx, trigger, got, plan.source)];
  } catch (err) {
    if (!(err instanceof AllocationFailure)) throw err;
    log.warn({ code: err.failure.code, reason: err.failure.reason }, "IP allocation failed");
    return [allocationFailed(deps.ctx, trigger, err.failure)];
  }
}

export function handlers(deps: ServiceDeps): Handlers {
  const handle: Handler = async (message, delivery, log) => {
    const tenant = message.meta.tenant_id;
    const subscriber = message.meta.subscriber_id;
    if (!subscriber) throw new PoisonMessageError("invalid", `${message.type} without meta.subscriber_id`);
    await deps.once(message, delivery, async (tx) => {
      let state = evolve(await loadState(tx, tenant, subscriber), message);
      const out: Message[] = isTrigger(message) ? await allocate(deps, tx, message, state, log) : [];
      for (const m of out) state = evolve(state, m);
      const release = planRelease(state, await heldBy(tx, tenant, subscriber));
      if (release) {
        const gone = await releaseAll(tx, tenant, subscriber);
        const m = released(deps.ctx, message, gone, release.reason);
        log.info({ ips: m.data.ips, reason: release.reason }, "Released IPs");
        out.push(m);
        state = evolve(state, m);
      }
      await saveState(tx, tenant, subscriber, state);
      return out.map((m) => ({ message: m }));
    });
  };
  return Object.fromEntries(reactsTo.map((type) => [type, handle])) as Handlers;
}
