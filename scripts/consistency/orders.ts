// orders-terminal, as the CRM sees it, pure: every order placed on crm.orders.v1 has a terminal
// status on crm.order-status.v1 (OrderCompleted, OrderFailed or OrderRejected). One that has
// none is in flight for the grace period and a breach after it.
import { terminalOutcomes, type CheckOptions, type Finding, type OrderRecord, type Report } from "./model.js";

const terminal: ReadonlySet<string> = new Set(terminalOutcomes);

export function checkOrders(orders: readonly OrderRecord[], options: CheckOptions): Report {
  const breaches: Finding[] = [];
  const inFlight: Finding[] = [];
  for (const o of orders) {
    if (o.statuses.some((s) => terminal.has(s))) continue;
    const age = options.now - o.placed_at;
    const last = o.statuses.at(-1);
    const finding: Finding = {
      invariant: "orders-terminal",
      tenant: o.tenant_id,
      subscriber: o.subscriber_id,
      detail: `${o.type} ${o.order_id} placed ${Math.round(age / 1000)} s ago has no terminal status (${last ? `last: ${last}` : "no status at all"})`,
    };
    (age > options.graceMs ? breaches : inFlight).push(finding);
  }
  return { breaches, inFlight };
}
