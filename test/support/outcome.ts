// A CRM order placed and its outcome awaited on crm.order-status.v1, as a CRM would.
import type { Message } from "../../schemas/generated/events.js";
import type { Crm } from "../../scripts/crm.js";
import type { Watch } from "./watch.js";

export type Outcome = Message<"OrderCompleted"> | Message<"OrderFailed"> | Message<"OrderRejected">;
export const finalTypes = ["OrderCompleted", "OrderFailed", "OrderRejected"];

/** Places `m` and waits for its order's first terminal status (watched by correlation id). */
export async function placeAndAwait(crm: Crm, status: Watch, m: Message, timeoutMs = 90_000): Promise<Outcome> {
  await crm.place(m);
  const ms = await status.waitFor(m.meta.correlation_id, (list) => list.some((x) => finalTypes.includes(x.type)), timeoutMs);
  return ms.find((x) => finalTypes.includes(x.type)) as Outcome;
}
