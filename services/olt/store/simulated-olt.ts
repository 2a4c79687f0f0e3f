// Store functions of the simulated OLT: what an operator does with the CLI (add an OLT, discover
// an ONU on a PON port, inject or clear failures, list) and what tests use to set the stage.
// Every function takes the tenant and touches only that tenant's rows.
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import { isPonPort, nextOnuNumber } from "../decide-sim.js";
import { failureInjections, olts, onus, ponPorts, serviceFlows } from "./schema.js";

type Conn = Pick<Db, "select" | "insert" | "update" | "delete">;
export type Operation = "activate" | "deactivate" | "set_bandwidth";
export const operations: readonly Operation[] = ["activate", "deactivate", "set_bandwidth"];

export class SimulatedOltError extends Error {
  override name = "SimulatedOltError";
}

export async function addOlt(db: Conn, tenant: string, oltId: string, name: string): Promise<void> {
  await db.insert(olts).values({ tenantId: tenant, oltId, name }).onConflictDoUpdate({ target: [olts.tenantId, olts.oltId], set: { name } });
}

/** Registers the ONU `serial` as seen on `port` of `oltId` (adding the PON port if new); returns its onu_id. */
export async function discoverOnu(db: Db, tenant: string, oltId: string, port: string, serial: string): Promise<string> {
  if (!isPonPort(port)) throw new SimulatedOltError(`PON port ${JSON.stringify(port)} is not frame/slot/port, e.g. 0/1/3`);
  return db.transaction(async (tx) => {
    const [olt] = await tx.select().from(olts).where(and(eq(olts.tenantId, tenant), eq(olts.oltId, oltId)));
    if (!olt) throw new SimulatedOltError(`OLT ${oltId} does not exist for tenant ${tenant}; add it first`);
    await tx.insert(ponPorts).values({ tenantId: tenant, oltId, port }).onConflictDoNothing();
    const [known] = await tx.select().from(onus).where(and(eq(onus.tenantId, tenant), eq(onus.serial, serial))).for("update");
    if (known) {
      if (known.oltId === oltId && known.ponPort === port) return known.onuId;
      throw new SimulatedOltError(`ONU ${serial} is already discovered on ${known.oltId} port ${known.ponPort}`);
    }
    const taken = await tx
      .select({ n: onus.onuNumber })
      .from(onus)
      .where(and(eq(onus.tenantId, tenant), eq(onus.oltId, oltId), eq(onus.ponPort, port)));
    const n = nextOnuNumber(taken.map((t) => t.n));
    if (n === null) throw new SimulatedOltError(`PON port ${port} of ${oltId} is full`);
    const onuId = `${oltId}:${port}:${n}`;
    await tx.insert(onus).values({ tenantId: tenant, serial, oltId, ponPort: port, onuNumber: n, onuId });
    return onuId;
  });
}

export interface Injection {
  readonly operation: Operation;
  readonly error: string;
  /** Number of times it fails; "permanent" until cleared. */
  readonly times: number | "permanent";
}

export async function injectFailure(db: Conn, tenant: string, serial: string, inj: Injection): Promise<void> {
  const values = {
    error: inj.error,
    remaining: inj.times === "permanent" ? 0 : inj.times,
    permanent: inj.times === "permanent",
  };
  await db
    .insert(failureInjections)
    .values({ tenantId: tenant, serial, operation: inj.operation, ...values })
    .onConflictDoUpdate({ target: [failureInjections.tenantId, failureInjections.serial, failureInjections.operation], set: values });
}

/** Clears the injections of `serial` (one operation, or all). Returns how many were removed. */
export async function clearInjection(db: Conn, tenant: string, serial: string, operation?: Operation): Promise<number> {
  const cond = and(
    eq(failureInjections.tenantId, tenant),
    eq(failureInjections.serial, serial),
    operation ? eq(failureInjections.operation, operation) : undefined,
  );
  return (await db.delete(failureInjections).where(cond).returning()).length;
}

export async function listOlt(db: Conn, tenant: string) {
  const [oltRows, portRows, onuRows, flowRows, injectionRows] = await Promise.all([
    db.select().from(olts).where(eq(olts.tenantId, tenant)).orderBy(asc(olts.oltId)),
    db.select().from(ponPorts).where(eq(ponPorts.tenantId, tenant)).orderBy(asc(ponPorts.oltId), asc(ponPorts.port)),
    db.select().from(onus).where(eq(onus.tenantId, tenant)).orderBy(asc(onus.oltId), asc(onus.ponPort), asc(onus.onuNumber)),
    db.select().from(serviceFlows).where(eq(serviceFlows.tenantId, tenant)).orderBy(asc(serviceFlows.onuId)),
    db.select().from(failureInjections).where(eq(failureInjections.tenantId, tenant)).orderBy(asc(failureInjections.serial)),
  ]);
  return { olts: oltRows, ponPorts: portRows, onus: onuRows, flows: flowRows, injections: injectionRows };
}

export async function flowOf(db: Conn, tenant: string, serial: string) {
  const [flow] = await db.select().from(serviceFlows).where(and(eq(serviceFlows.tenantId, tenant), eq(serviceFlows.serial, serial)));
  return flow ?? null;
}

export async function onuOf(db: Conn, tenant: string, serial: string) {
  const [onu] = await db.select().from(onus).where(and(eq(onus.tenantId, tenant), eq(onus.serial, serial)));
  return onu ?? null;
}
