// The thin part: load the subscriber's view and account, fold the event, ask the decisions,
// store, emit; all in one unit of work (inbox + change + outbox).
import type { Message } from "../../schemas/generated/events.js";
import type { Handler } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Outgoing } from "../../shared/outbox.js";
import type { ServiceDeps } from "../../shared/service.js";
import { evolveView } from "../../shared/subscriber-view.js";
import { newCredential } from "./adapters/credentials.js";
import { decideAccount, decideCompensation, describeAccount } from "./decide.js";
import * as store from "./store/store.js";

/** Folds any lifecycle event into the view; on IpAllocated creates the account; undoes it when the rollback reaches radius. */
export function lifecycleHandler(deps: Pick<ServiceDeps, "once" | "ctx">): Handler {
  return async (message: Message, delivery, log) => {
    const tenantId = message.meta.tenant_id;
    const subscriberId = message.meta.subscriber_id;
    if (!subscriberId) throw new PoisonMessageError("invalid", `${message.type} without a subscriber id`);

    await deps.once(message, delivery, async (tx) => {
      const view = evolveView(await store.loadView(tx, tenantId, subscriberId), message);
      if (!view) {
        if (message.type === "IpAllocated") throw new PoisonMessageError("invalid", "IpAllocated for a subscriber whose SubscriberCreated this service never saw");
        log.debug("no SubscriberCreated seen for this subscriber: event skipped");
        return [];
      }
      await store.saveView(tx, view);
      let account = await store.findAccount(tx, tenantId, subscriberId);
      const out: Outgoing[] = [];

      if (message.type === "IpAllocated") {
        const plan = await store.findPlan(tx, tenantId, view.service_plan_id);
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
            const { check } = newCredential(); // the first password is never shown: the operator rotates it over the admin route
            await store.createAccount(tx, { tenantId, subscriberId, username: decision.username, planGroup: decision.planGroup, check, reply: decision.reply });
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

      const compensation = decideCompensation(view, account, message, deps.ctx);
      if (compensation.kind === "delete") {
        await store.deleteAccount(tx, tenantId, subscriberId, compensation.username);
        log.info({ username: compensation.username, failure: view.progress.failure }, `Deleted RADIUS account: ${compensation.username} (rollback)`);
        out.push(...compensation.events.map((m) => ({ message: m })));
      }
      return out;
    });
  };
}
