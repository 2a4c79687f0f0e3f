// pino logging. Every line about an event carries subscriber_id, event_id and correlation_id
// (see forEvent). Secrets are redacted by key name as a second line of defence: the first is
// that no event or log call ever carries them.
import pino, { type Logger } from "pino";
import type { Meta } from "../schemas/generated/events.js";

export type { Logger };

const redactKeys = ["password", "secret", "cleartext_password", "shared_secret", "nas_secret"];

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...redactKeys, ...redactKeys.map((k) => `*.${k}`), ...redactKeys.map((k) => `*.*.${k}`)],
      censor: "[redacted]",
    },
  });
}

/** A child logger bound to one event: the ids an operator greps for in one place. */
export function forEvent(logger: Logger, meta: Pick<Meta, "subscriber_id" | "event_id" | "correlation_id" | "tenant_id">): Logger {
  // A provision order has no subscriber yet: leave the key out so a later child can set it
  // without the line carrying it twice.
  return logger.child({
    ...(meta.subscriber_id ? { subscriber_id: meta.subscriber_id } : {}),
    event_id: meta.event_id,
    correlation_id: meta.correlation_id,
    tenant_id: meta.tenant_id,
  });
}
