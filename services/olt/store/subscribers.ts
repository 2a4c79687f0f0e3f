// What the olt service keeps per subscriber: the lifecycle view and its own decisions.
import { and, eq } from "drizzle-orm";
import type { Tx } from "../../../shared/outbox.js";
import type { SubscriberView } from "../../../shared/subscriber-view.js";
import type { OltState } from "../decide.js";
import { subscribers } from "./schema.js";

type Conn = Pick<Tx, "select" | "insert">;

/** Locks the row for the rest of the transaction. */
export async function loadSubscriber(tx: Conn, tenant: string, subscriberId: string) {
  const [row] = await tx
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.tenantId, tenant), eq(subscribers.subscriberId, subscriberId)))
    .for("update");
  return row ? { view: row.view, state: row.state } : null;
}

export async function saveSubscriber(tx: Conn, view: SubscriberView, state: OltState): Promise<void> {
  await tx
    .insert(subscribers)
    .values({ tenantId: view.tenant_id, subscriberId: view.subscriber_id, view, state })
    .onConflictDoUpdate({ target: [subscribers.tenantId, subscribers.subscriberId], set: { view, state, updatedAt: new Date() } });
}
