// The per-tenant plan catalogue: written by the CLI (and tests), read by order intake.
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../../../shared/db.js";
import type { Tx } from "../../../shared/outbox.js";
import type { Plan } from "../decide.js";
import { plans } from "./schema.js";

export type Executor = Db | Tx;

export interface PlanInput {
  readonly tenantId: string;
  readonly planId: string;
  readonly name: string;
  readonly bandwidthMbps: number;
}

const toPlan = (r: typeof plans.$inferSelect): Plan => ({ plan_id: r.planId, name: r.name, bandwidth_mbps: r.bandwidthMbps });

/** Adds the plan, or updates its name and bandwidth when the tenant already has it. */
export async function addPlan(db: Executor, p: PlanInput): Promise<Plan> {
  const [row] = await db
    .insert(plans)
    .values({ tenantId: p.tenantId, planId: p.planId, name: p.name, bandwidthMbps: p.bandwidthMbps })
    .onConflictDoUpdate({
      target: [plans.tenantId, plans.planId],
      set: { name: p.name, bandwidthMbps: p.bandwidthMbps, updatedAt: sql`now()` },
    })
    .returning();
  if (!row) throw new Error(`plan ${p.planId} of tenant ${p.tenantId} was not stored`);
  return toPlan(row);
}

export async function listPlans(db: Executor, tenantId: string): Promise<Plan[]> {
  const rows = await db.select().from(plans).where(eq(plans.tenantId, tenantId)).orderBy(asc(plans.planId));
  return rows.map(toPlan);
}

export async function findPlan(db: Executor, tenantId: string, planId: string): Promise<Plan | null> {
  const [row] = await db.select().from(plans).where(and(eq(plans.tenantId, tenantId), eq(plans.planId, planId)));
  return row ? toPlan(row) : null;
}

/** Whether the tenant is set up here: it has a plan catalogue (an order of any other tenant is unknown_tenant). */
export async function tenantHasPlans(db: Executor, tenantId: string): Promise<boolean> {
  const [row] = await db.select({ planId: plans.planId }).from(plans).where(eq(plans.tenantId, tenantId)).limit(1);
  return row !== undefined;
}
