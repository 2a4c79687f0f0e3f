// Sets up an ISP tenant across the services' own configuration, as an operator would with each
// service's CLI: the plan catalogue (subscriber), RADIUS rate limits (radius), prices (billing),
// IP pools (ipam), OLTs and discovered ONUs (olt, simulated). Idempotent. Used by the demo and
// the end-to-end tests.
import { connect, migrateSchema, type Db } from "../shared/db.js";
import { setPrice } from "../services/billing/store/billing.js";
import { definition as billing } from "../services/billing/service.js";
import { addPool, loadPools, type PoolInput } from "../services/ipam/store/pools.js";
import { definition as ipam } from "../services/ipam/service.js";
import { addOlt, discoverOnu, injectFailure, listOlt } from "../services/olt/store/simulated-olt.js";
import { definition as olt } from "../services/olt/service.js";
import { setPlan } from "../services/radius/store/store.js";
import { definition as radius } from "../services/radius/service.js";
import { addPlan } from "../services/subscriber/store/plans.js";
import { definition as subscriber } from "../services/subscriber/service.js";

export interface PlanSpec {
  readonly planId: string;
  readonly name: string;
  readonly downloadMbps: number;
  readonly uploadMbps?: number;
  /** RADIUS rate limit configured? (false: radius fails provisioning with plan_not_configured) */
  readonly radius?: boolean;
  /** Monthly price; null: billing fails provisioning with price_not_configured. */
  readonly monthly?: { readonly cents: number; readonly currency: string } | null;
}

export interface TenantSpec {
  readonly tenantId: string;
  readonly plans: readonly PlanSpec[];
  readonly pools: readonly Omit<PoolInput, "tenantId">[];
  readonly olts: readonly { readonly oltId: string; readonly name: string; readonly onus: readonly { readonly port: string; readonly serial: string }[] }[];
  /** ONU serials whose activation fails on the simulated OLT (failure injection). */
  readonly failingOnus?: readonly { readonly serial: string; readonly error: string }[];
}

const services = [subscriber, radius, billing, ipam, olt];

export async function migrateAll(url: string): Promise<void> {
  for (const def of services) {
    const d = def();
    await migrateSchema(url, d.name, d.migrationsFolder);
  }
}

export async function setupTenant(db: Db, spec: TenantSpec): Promise<void> {
  const t = spec.tenantId;
  for (const p of spec.plans) {
    await addPlan(db, { tenantId: t, planId: p.planId, name: p.name, bandwidthMbps: p.downloadMbps });
    if (p.radius !== false) await setPlan(db, t, { planId: p.planId, downloadMbps: p.downloadMbps, uploadMbps: p.uploadMbps ?? p.downloadMbps });
    if (p.monthly !== null) {
      const m = p.monthly ?? { cents: 3990, currency: "EUR" };
      await setPrice(db, t, p.planId, { monthly_price_cents: m.cents, currency: m.currency });
    }
  }
  const existingPools = new Set((await loadPools(db, t)).map((p) => p.name));
  for (const pool of spec.pools) if (!existingPools.has(pool.name)) await addPool(db, { ...pool, tenantId: t });
  const knownSerials = new Set((await listOlt(db, t)).onus.map((o) => o.serial));
  for (const o of spec.olts) {
    await addOlt(db, t, o.oltId, o.name);
    for (const onu of o.onus) {
      if (!knownSerials.has(onu.serial)) await discoverOnu(db, t, o.oltId, onu.port, onu.serial);
    }
  }
  for (const f of spec.failingOnus ?? []) await injectFailure(db, t, f.serial, { operation: "activate", error: f.error, times: "permanent" });
}

/** Connects, migrates every service's schema and sets the tenant up. */
export async function setupTenants(url: string, specs: readonly TenantSpec[]): Promise<void> {
  await migrateAll(url);
  const { sql, db } = connect(url, { application: "tenant-setup" });
  try {
    for (const s of specs) await setupTenant(db, s);
  } finally {
    await sql.end();
  }
}
