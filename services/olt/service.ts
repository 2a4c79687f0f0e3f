// The olt service: folds every lifecycle event of a subscriber into its view; on
// RadiusAccountCreated activates the ONU through the OLT driver (or skips non-FTTH); after a
// failed provisioning, deactivates it when its turn in the compensation order comes; on
// termination, when its turn in the teardown order comes; follows plan changes' bandwidth.
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { EventName, Message } from "../../schemas/generated/events.js";
import type { BaseConfig } from "../../shared/config.js";
import type { Handler, Handlers } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Delivery } from "../../shared/outbox.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { evolveView } from "../../shared/subscriber-view.js";
import { topics } from "../../shared/topics.js";
import { OltRefusedError, type OltDriver } from "./adapters/driver.js";
import { simulatedDriver } from "./adapters/simulated.js";
import { activated, bandwidthChanged, deactivated, decide, initialOltState, refused, vlanLabel, type Emit } from "./decide.js";
import * as store from "./store/schema.js";
import { loadSubscriber, saveSubscriber } from "./store/subscribers.js";

export const oltConfig = {
  /** Which OLT driver to use. Only the simulated OLT exists; VOLTHA would be a second implementation of OltDriver. */
  OLT_DRIVER: z.enum(["simulated"]).default("simulated"),
};
type OltConfig = BaseConfig & z.infer<z.ZodObject<typeof oltConfig>>;

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/** The one place listing what the olt service reacts to: every event that changes its view of a subscriber. */
export const reactsTo = [
  "SubscriberCreated",
  "NetworkProfileCreated",
  "NetworkProfileUpdated",
  "NetworkProfileSkipped",
  "NetworkProfileDeleted",
  "IpAllocated",
  "IpReleased",
  "RadiusAccountCreated", // the trigger
  "RadiusAccountDeleted",
  "OnuActivated", // our own: the success that may have to be undone
  "OnuDeactivated",
  "BillingServiceCreated",
  "BillingServiceCancelled", // billing undone: olt's turn
  "BillingServiceTerminated",
  "SubscriberProvisioningFailed",
  "SubscriberProvisioned",
  "SubscriberPlanChangeRequested", // the bandwidth follows
  "SubscriberSuspended",
  "SubscriberResumed",
  "SubscriberTerminationRequested", // teardown: our turn once the RADIUS account is gone
  "SubscriberArchived",
] as const satisfies readonly EventName[];

function driverFor(deps: ServiceDeps<OltConfig>): OltDriver {
  switch (deps.config.OLT_DRIVER) {
    case "simulated":
      return simulatedDriver(deps.db);
  }
}

export function oltHandlers(deps: ServiceDeps<OltConfig>, driver: OltDriver = driverFor(deps)): Handlers {
  const { once, ctx } = deps;

  async function handle(message: Message, delivery: Delivery, log: Logger): Promise<void> {
    const subscriberId = message.meta.subscriber_id;
    if (!subscriberId) throw new PoisonMessageError("invalid", `${message.type} without a subscriber_id`);
    await once(message, delivery, async (tx) => {
      const row = await loadSubscriber(tx, message.meta.tenant_id, subscriberId);
      const view = evolveView(row?.view ?? null, message);
      if (!view) {
        if (message.type === "RadiusAccountCreated") {
          throw new PoisonMessageError("invalid", `RadiusAccountCreated for subscriber ${subscriberId}, whose SubscriberCreated was never seen`);
        }
        log.debug("no SubscriberCreated seen for this subscriber, skipped");
        return [];
      }
      const state = row?.state ?? initialOltState;
      const decision = decide(view, state, message, ctx);
      let out: Emit = { events: [], state };
      switch (decision.kind) {
        case "nothing":
          break;
        case "emit":
          out = decision;
          for (const e of decision.events) logOutcome(log, e);
          break;
        case "activate": {
          const req = decision.request;
          log.info({ onu_serial: req.serial, s_vlan: req.sVlan, c_vlan: req.cVlan, bandwidth_mbps: req.bandwidthMbps }, `Activating ONU ${req.serial} (VLAN: ${vlanLabel(req.sVlan, req.cVlan)})`);
          try {
            const placement = await driver.activate(req);
            out = activated(state, req, placement, message, ctx);
          } catch (err) {
            if (!(err instanceof OltRefusedError)) throw err; // transient: retried
            out = refused(state, req, err, message, ctx);
          }
          for (const e of out.events) logOutcome(log, e);
          break;
        }
        case "deactivate": {
          const req = decision.request;
          log.info({ onu_id: req.onuId, onu_serial: req.serial, progress: view.progress, reason: req.reason }, `Deactivating ONU (${req.reason})`);
          await driver.deactivate(req); // nothing left to remove is fine: it is gone either way
          out = deactivated(state, req, message, ctx);
          for (const e of out.events) logOutcome(log, e);
          break;
        }
        case "set-bandwidth": {
          const req = decision.request;
          log.info({ onu_id: req.onuId, onu_serial: req.serial, bandwidth_mbps: req.bandwidthMbps }, `Changing ONU ${req.serial} bandwidth to ${req.bandwidthMbps} Mbps`);
          try {
            await driver.setBandwidth(req);
            out = bandwidthChanged(state, req, message, ctx);
          } catch (err) {
            if (!(err instanceof OltRefusedError)) throw err; // transient: retried
            // No failure event exists in the contract for this: logged; the plan change does not complete.
            log.error({ onu_id: req.onuId, code: err.code, reason: err.reason }, "ONU bandwidth change refused by the OLT");
          }
          for (const e of out.events) logOutcome(log, e);
          break;
        }
        default: {
          const never: never = decision;
          throw new Error(`unknown decision ${JSON.stringify(never)}`);
        }
      }
      await saveSubscriber(tx, view, out.state);
      return out.events.map((m) => ({ message: m }));
    });
  }

  return Object.fromEntries(reactsTo.map((type) => [type, handle as Handler])) as Handlers;
}

function logOutcome(log: Logger, e: Message): void {
  switch (e.type) {
    case "OnuActivated":
      log.info(
        { onu_id: e.data.onu_id, olt_id: e.data.olt_id, pon_port: e.data.pon_port, s_vlan: e.data.s_vlan, c_vlan: e.data.c_vlan, bandwidth_mbps: e.data.bandwidth_mbps },
        `ONU activated: ${e.data.onu_id} (VLAN: ${vlanLabel(e.data.s_vlan, e.data.c_vlan)})`,
      );
      return;
    case "OnuActivationFailed":
      log.warn({ onu_serial: e.data.onu_serial, code: e.data.code, reason: e.data.reason }, "ONU activation failed");
      return;
    case "OnuActivationSkipped":
      log.info({ connection_type: e.data.connection_type }, "ONU activation skipped: not FTTH");
      return;
    case "OnuBandwidthChanged":
      log.info({ onu_id: e.data.onu_id, bandwidth_mbps: e.data.bandwidth_mbps }, `ONU bandwidth changed: ${e.data.onu_id} (${e.data.bandwidth_mbps} Mbps)`);
      return;
    case "OnuDeactivated":
      log.info({ onu_id: e.data.onu_id, onu_serial: e.data.onu_serial, reason: e.data.reason }, `ONU deactivated: ${e.data.onu_id}`);
      return;
    default:
      return;
  }
}

export function definition(opts: { driver?: OltDriver } = {}): ServiceDefinition<typeof oltConfig> {
  return {
    name: "olt",
    tables: { schema: store.schema, inbox: store.inbox, outbox: store.outbox },
    migrationsFolder,
    consumes: [topics.lifecycle],
    config: oltConfig,
    handlers: (deps) => oltHandlers(deps, opts.driver ?? driverFor(deps)),
  };
}
