// The olt service: folds every lifecycle event of a subscriber into its view; on
// RadiusAccountCreated activates the ONU through the OLT driver (or skips non-FTTH); after a
// failed provisioning, deactivates it when its turn in the compensation order comes; on
// termination, when its turn in the teardown order comes; follows plan changes' bandwidth.
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { Message } from "../../schemas/generated/events.js";
import type { BaseConfig } from "../../shared/config.js";
import type { BatchReactor } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { ServiceDefinition, ServiceDeps } from "../../shared/service.js";
import { viewReactor } from "../../shared/reactor.js";
import { topics } from "../../shared/topics.js";
import { OltRefusedError, type OltDriver } from "./adapters/driver.js";
import { simulatedDriver } from "./adapters/simulated.js";
import { activated, bandwidthChanged, bandwidthRefused, deactivated, deactivationRefused, decide, initialOltState, refused, vlanLabel, type Emit, type OltState } from "./decide.js";
import * as store from "./store/schema.js";
import { subscriberState } from "./store/schema.js";

export const oltConfig = {
  /** Which OLT driver to use. Only the simulated OLT exists; VOLTHA would be a second implementation of OltDriver. */
  OLT_DRIVER: z.enum(["simulated"]).default("simulated"),
};
type OltConfig = BaseConfig & z.infer<z.ZodObject<typeof oltConfig>>;

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

function driverFor(deps: ServiceDeps<OltConfig>): OltDriver {
  switch (deps.config.OLT_DRIVER) {
    case "simulated":
      return simulatedDriver(deps.db);
  }
}

export function oltReactor(deps: ServiceDeps<OltConfig>, driver: OltDriver = driverFor(deps)): BatchReactor {
  const { ctx } = deps;
  return viewReactor<OltState>({ ...deps, topic: topics.lifecycle }, {
    initial: initialOltState,
    table: subscriberState,
    // decide is pure: "nothing" is certain to cause nothing.
    quiet: ({ message, view, state }) => {
      if (!view) return message.type === "RadiusAccountCreated" ? undefined : state;
      return decide(view, state, message, ctx).kind === "nothing" ? state : undefined;
    },
    async react({ message, view, state, log }) {
      if (!view) {
        if (message.type === "RadiusAccountCreated") {
          throw new PoisonMessageError("invalid", `RadiusAccountCreated for subscriber ${message.meta.subscriber_id}, whose SubscriberCreated was never seen`);
        }
        log.debug("no SubscriberCreated seen for this subscriber, skipped");
        return {};
      }
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
          try {
            await driver.deactivate(req); // nothing left to remove is fine: it is gone either way
            out = deactivated(state, req, message, ctx);
          } catch (err) {
            if (!(err instanceof OltRefusedError)) throw err; // transient: retried
            out = deactivationRefused(state, req, err, message, ctx);
          }
          for (const e of out.events) logOutcome(log, e);
          break;
        }
        case "set-bandwidth": {
          const req = decision.request;
          log.info({ onu_id: req.onuId, onu_serial: req.serial, bandwidth_mbps: req.bandwidthMbps, reverts_order_id: req.revertsOrderId }, `${req.revertsOrderId ? "Putting back" : "Changing"} ONU ${req.serial} bandwidth to ${req.bandwidthMbps} Mbps`);
          try {
            await driver.setBandwidth(req);
            out = bandwidthChanged(state, req, message, ctx);
          } catch (err) {
            if (!(err instanceof OltRefusedError)) throw err; // transient: retried
            out = bandwidthRefused(state, req, err, message, ctx);
          }
          for (const e of out.events) logOutcome(log, e);
          break;
        }
        default: {
          const never: never = decision;
          throw new Error(`unknown decision ${JSON.stringify(never)}`);
        }
      }
      return { state: out.state, out: out.events.map((m) => ({ message: m })) };
    },
  });
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
    case "OnuBandwidthChangeFailed":
      log.warn({ onu_id: e.data.onu_id, bandwidth_mbps: e.data.bandwidth_mbps, code: e.data.code, reason: e.data.reason, reverts_order_id: e.data.reverts_order_id }, "ONU bandwidth change refused by the OLT");
      return;
    case "OnuDeactivationFailed":
      log.warn({ onu_id: e.data.onu_id, onu_serial: e.data.onu_serial, purpose: e.data.purpose, code: e.data.code, reason: e.data.reason }, "ONU deactivation refused by the OLT");
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
    reactor: (deps) => oltReactor(deps, opts.driver ?? driverFor(deps)),
  };
}
