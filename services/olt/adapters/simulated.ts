// The simulated OLT: the default OltDriver. Its state (OLTs, PON ports, discovered ONUs, service
// flows, injected failures) lives in the olt schema and is changed in transactions of its own,
// as a real OLT's state would be: a handler that fails after the driver acted finds the same
// state on retry, and the driver's idempotency makes the retry harmless.
import { and, eq } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import { planActivation, planDeactivation, planSetBandwidth, type InjectionOutcome, type SimFlow, type SimOnu } from "../decide-sim.js";
import { failureInjections, onus, serviceFlows } from "../store/schema.js";
import type { Operation } from "../store/simulated-olt.js";
import { OltRefusedError, OltUnavailableError, type OltDriver } from "./driver.js";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

async function load(tx: Tx, tenant: string, serial: string, operation: Operation) {
  const [onu] = await tx.select().from(onus).where(and(eq(onus.tenantId, tenant), eq(onus.serial, serial))).for("update");
  const [flow] = await tx.select().from(serviceFlows).where(and(eq(serviceFlows.tenantId, tenant), eq(serviceFlows.serial, serial)));
  const [injection] = await tx
    .select()
    .from(failureInjections)
    .where(and(eq(failureInjections.tenantId, tenant), eq(failureInjections.serial, serial), eq(failureInjections.operation, operation)));
  const simOnu: SimOnu | null = onu ? { serial, oltId: onu.oltId, ponPort: onu.ponPort, onuId: onu.onuId, state: onu.state } : null;
  const simFlow: SimFlow | null = flow ? { subscriberId: flow.subscriberId, sVlan: flow.sVlan, cVlan: flow.cVlan, bandwidthMbps: flow.bandwidthMbps } : null;
  return { onu: simOnu, flow: simFlow, injection: injection ?? null };
}

/** Spends one use of a counted injection (permanent ones stay). */
async function spend(tx: Tx, tenant: string, serial: string, operation: Operation, outcome: InjectionOutcome): Promise<void> {
  if (!outcome.fires || outcome.remainingAfter === "permanent") return;
  await tx
    .update(failureInjections)
    .set({ remaining: outcome.remainingAfter })
    .where(and(eq(failureInjections.tenantId, tenant), eq(failureInjections.serial, serial), eq(failureInjections.operation, operation)));
}

export function simulatedDriver(db: Db): OltDriver {
  return {
    async activate(req) {
      // The refusal is thrown after commit, so a spent injection stays spent.
      const result = await db.transaction(async (tx) => {
        const { onu, flow, injection } = await load(tx, req.tenant, req.serial, "activate");
        const plan = planActivation(onu, flow, injection, req);
        if (plan.kind === "refuse") {
          await spend(tx, req.tenant, req.serial, "activate", plan.injection);
          return plan;
        }
        if (plan.kind === "provision") {
          const row = { onuId: plan.placement.onuId, subscriberId: req.subscriberId, sVlan: req.sVlan, cVlan: req.cVlan, bandwidthMbps: req.bandwidthMbps };
          await tx
            .insert(serviceFlows)
            .values({ tenantId: req.tenant, serial: req.serial, ...row })
            .onConflictDoUpdate({ target: [serviceFlows.tenantId, serviceFlows.serial], set: row });
          await tx
            .update(onus)
            .set({ state: "active", updatedAt: new Date() })
            .where(and(eq(onus.tenantId, req.tenant), eq(onus.serial, req.serial)));
        }
        return plan;
      });
      if (result.kind === "refuse") throw new OltRefusedError(result.code, result.reason);
      return result.placement;
    },

    async deactivate(req) {
      const result = await db.transaction(async (tx) => {
        const { onu, flow, injection } = await load(tx, req.tenant, req.serial, "deactivate");
        const plan = planDeactivation(onu, flow, injection, req.subscriberId);
        if (plan.kind === "fail") await spend(tx, req.tenant, req.serial, "deactivate", plan.injection);
        if (plan.kind === "remove") {
          await tx.delete(serviceFlows).where(and(eq(serviceFlows.tenantId, req.tenant), eq(serviceFlows.serial, req.serial)));
          await tx
            .update(onus)
            .set({ state: "discovered", updatedAt: new Date() })
            .where(and(eq(onus.tenantId, req.tenant), eq(onus.serial, req.serial)));
        }
        return plan;
      });
      // There is no failure event for an undo: an OLT that will not let go is retried like an unreachable one.
      if (result.kind === "fail") throw new OltUnavailableError(`deactivating ONU ${req.serial} failed: ${result.error}`);
      return result.kind === "remove" ? { onuId: result.onuId } : null;
    },

    async setBandwidth(req) {
      const result = await db.transaction(async (tx) => {
        const { onu, flow, injection } = await load(tx, req.tenant, req.serial, "set_bandwidth");
        const plan = planSetBandwidth(onu, flow, injection, req);
        if (plan.kind === "refuse") {
          await spend(tx, req.tenant, req.serial, "set_bandwidth", plan.injection);
          return plan;
        }
        await tx
          .update(serviceFlows)
          .set({ bandwidthMbps: req.bandwidthMbps })
          .where(and(eq(serviceFlows.tenantId, req.tenant), eq(serviceFlows.serial, req.serial)));
        return plan;
      });
      if (result.kind === "refuse") throw new OltRefusedError(result.code, result.reason);
      return result.placement;
    },
  };
}
