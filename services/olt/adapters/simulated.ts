// The simulated OLT: the default OltDriver. Its state (OLTs, PON ports, discovered ONUs, service
// flows, injected failures) lives in the olt schema and is changed in transactions of its own,
// as a real OLT's state would be: a handler that fails after the driver acted finds the same
// state on retry, and the driver's idempotency makes the retry harmless.
import { and, eq } from "drizzle-orm";
import { clientOf, type Db } from "../../../shared/db.js";
import { planActivation, planDeactivation, planSetBandwidth, type InjectionOutcome, type SimFlow, type SimOnu } from "../decide-sim.js";
import { failureInjections, onus, serviceFlows } from "../store/schema.js";
import type { Operation } from "../store/simulated-olt.js";
import { OltRefusedError, type OltDriver } from "./driver.js";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/**
 * The ONU (locked), its flow and the injection for `operation`, in one statement; with `pair`, the
 * other subscriber (if any) whose flow on the same OLT carries that QinQ pair.
 */
async function load(tx: Tx, tenant: string, serial: string, operation: Operation, pair?: { sVlan: number | null; cVlan: number | null; subscriberId: string }) {
  type Row = {
    onu: { olt_id: string; pon_port: string; onu_id: string; state: SimOnu["state"] } | null;
    flow: { subscriber_id: string; s_vlan: number | null; c_vlan: number | null; bandwidth_mbps: number } | null;
    injection: { error: string; remaining: number; permanent: boolean } | null;
    vlan_holder: string | null;
  };
  const checkPair = pair !== undefined && pair.sVlan !== null && pair.cVlan !== null;
  const [row] = await clientOf(tx)<Row[]>`
    with onu as (select olt_id, pon_port, onu_id, state from olt.onus where tenant_id = ${tenant} and serial = ${serial} for update)
    select (select row_to_json(onu) from onu) as onu,
           (select json_build_object('subscriber_id', subscriber_id, 's_vlan', s_vlan, 'c_vlan', c_vlan, 'bandwidth_mbps', bandwidth_mbps)
              from olt.service_flows where tenant_id = ${tenant} and serial = ${serial}) as flow,
           (select json_build_object('error', error, 'remaining', remaining, 'permanent', permanent)
              from olt.failure_injections where tenant_id = ${tenant} and serial = ${serial} and operation = ${operation}) as injection,
           (select f.subscriber_id from olt.service_flows f join olt.onus o on o.tenant_id = f.tenant_id and o.serial = f.serial
             where ${checkPair} and f.tenant_id = ${tenant} and f.s_vlan = ${pair?.sVlan ?? null} and f.c_vlan = ${pair?.cVlan ?? null}
               and f.subscriber_id <> ${pair?.subscriberId ?? ""} and o.olt_id = (select olt_id from onu) limit 1) as vlan_holder`;
  const { onu, flow, injection, vlan_holder } = row ?? { onu: null, flow: null, injection: null, vlan_holder: null };
  const simOnu: SimOnu | null = onu ? { serial, oltId: onu.olt_id, ponPort: onu.pon_port, onuId: onu.onu_id, state: onu.state } : null;
  const simFlow: SimFlow | null = flow ? { subscriberId: flow.subscriber_id, sVlan: flow.s_vlan, cVlan: flow.c_vlan, bandwidthMbps: flow.bandwidth_mbps } : null;
  return { onu: simOnu, flow: simFlow, injection: injection ?? null, vlanHolder: vlan_holder ?? null };
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
        const { onu, flow, injection, vlanHolder } = await load(tx, req.tenant, req.serial, "activate", req);
        const plan = planActivation(onu, flow, injection, req, vlanHolder);
        if (plan.kind === "refuse") {
          await spend(tx, req.tenant, req.serial, "activate", plan.injection);
          return plan;
        }
        if (plan.kind === "provision") {
          // The flow and the ONU's state in one statement.
          await clientOf(tx)`
            with flow as (
              insert into olt.service_flows (tenant_id, serial, onu_id, subscriber_id, s_vlan, c_vlan, bandwidth_mbps)
              values (${req.tenant}, ${req.serial}, ${plan.placement.onuId}, ${req.subscriberId}, ${req.sVlan}, ${req.cVlan}, ${req.bandwidthMbps})
              on conflict (tenant_id, serial) do update
                set onu_id = excluded.onu_id, subscriber_id = excluded.subscriber_id, s_vlan = excluded.s_vlan, c_vlan = excluded.c_vlan, bandwidth_mbps = excluded.bandwidth_mbps
            )
            update olt.onus set state = 'active', updated_at = now() where tenant_id = ${req.tenant} and serial = ${req.serial}`;
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
      // The OLT said no: OnuDeactivationFailed, and the part stays until an operator retries.
      if (result.kind === "fail") throw new OltRefusedError("injected_failure", `deactivating ONU ${req.serial} failed: ${result.error}`);
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
