// What ipam knows of each subscriber (IpamState: the shared SubscriberView plus progress), one
// row per (tenant, subscriber), locked for the length of the handler's transaction.
import { and, eq } from "drizzle-orm";
import type { Tx } from "../../../shared/outbox.js";
import { initialState, type IpamState } from "../decide.js";
import { subscribers } from "./schema.js";

export async function loadState(tx: Tx, tenantId: string, subscriberId: string): Promise<IpamState> {
  const [row] = await tx
    .select({ state: subscribers.state })
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenantId), eq(subscribers.subscriberId, subscriberId)))
    .for("update");
  return row?.state ?? initialState;
}

export async function saveState(tx: Tx, tenantId: string, subscriberId: string, state: IpamState): Promise<void> {
  await tx
    .insert(subscribers)
    .values({ tenantId, subscriberId, state })
    .onConflictDoUpdate({ target: [subscribers.tenantId, subscribers.subscriberId], set: { state, updatedAt: new Date() } });
}
