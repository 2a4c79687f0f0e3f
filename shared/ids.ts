// Ids and W3C trace context. Kept out of the pure decision code: handlers pass ids and clocks in.
import { createHash, randomBytes, randomUUID } from "node:crypto";

export const newId = (): string => randomUUID();

const hex = (bytes: number): string => randomBytes(bytes).toString("hex");

/**
 * A W3C traceparent for an outgoing event. The trace id continues the incoming one when there
 * is one; otherwise it is derived from the correlation id, so every event of one order shares a
 * trace even when the CRM sent none.
 */
export function traceparent(correlationId: string, incoming?: string): string {
  const parsed = incoming ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(incoming) : null;
  const traceId = parsed?.[1] ?? createHash("sha256").update(correlationId).digest("hex").slice(0, 32);
  return `00-${traceId}-${hex(8)}-01`;
}
