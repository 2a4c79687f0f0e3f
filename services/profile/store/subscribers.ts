// What the profile service knows of each subscriber (shared/subscriber-view.ts), by tenant.
import { and, eq } from "drizzle-orm";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import type { Executor } from "./profiles.js";
import { subscribers } from "./schema.js";

export async function loadView(db: Executor, tenantId: string, subscriberId: string): Promise<SubscriberView | null> {
  const rows = await db
    .select({ view: subscribers.view })
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.subscriberId, subscriberId)));
  return rows[0]?.view ?? null;
}

export async function saveView(db: Executor, view: SubscriberView): Promise<void> {
  await db
    .insert(subscribers)
    .values({ tenantId: view.tenant_id, subscriberId: view.subscriber_id, view })
    .onConflictDoUpdate({ target: [subscribers.tenantId, subscribers.subscriberId], set: { view, updatedAt: new Date() } });
}
