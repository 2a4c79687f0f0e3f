// The error split of the consumer runner:
// - PoisonMessageError: the input can never succeed (undecodable, unknown, invalid): it goes to
//   the DLQ with its code and reason and the offset moves on.
// - anything else thrown by a handler is transient: retried with capped backoff, a bounded number
//   of times, then the message goes to the DLQ as retries-exhausted.
// A business outcome (an order that makes no sense, a pool that is empty) is neither: the
// decision emits a named failure event.

export type PoisonCode =
  | "not-avro"
  | "unknown-schema-id"
  | "unknown-record-type"
  | "incompatible-schema"
  | "undecodable"
  | "invalid"
  | "retries-exhausted";

export class PoisonMessageError extends Error {
  constructor(
    readonly code: PoisonCode,
    message: string,
  ) {
    super(message);
    this.name = "PoisonMessageError";
  }
}

export const isPoison = (err: unknown): err is PoisonMessageError => err instanceof PoisonMessageError;
