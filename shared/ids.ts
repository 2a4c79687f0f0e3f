// Ids and W3C trace context. Kept out of the pure decision code: handlers pass ids and clocks in.
import { createHash, randomUUID } from "node:crypto";

export const newId = (): string => randomUUID();

/**
 * A span id: 16 hex digits, never all zero. Taken from randomUUID, which draws from a cached pool
 * of entropy, where randomBytes(8) went to OpenSSL once per outgoing event (1 % of a service's
 * CPU in the profiles): the last 16 digits of a v4 UUID, whose first is its variant (8-b).
 */
const spanId = (): string => randomUUID().slice(19).replace("-", "");

/**
 * A W3C traceparent for an outgoing event. The trace id continues the incoming one when there
 * is one; otherwise it is derived from the correlation id, so every event of one order shares a
 * trace even when the CRM sent none.
 */
export function traceparent(correlationId: string, incoming?: string): string {
  const parsed = incoming ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(incoming) : null;
  const traceId = parsed?.[1] ?? createHash("sha256").update(correlationId).digest("hex").slice(0, 32);
  return `00-${traceId}-${spanId()}-01`;
}
