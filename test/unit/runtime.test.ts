// Pure parts of the shared runtime.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Message } from "../../schemas/generated/events.js";
import { ConfigError, loadConfig } from "../../shared/config.js";
import { backoffMs, checkStorable, dlqHeaders } from "../../shared/consumer.js";
import { PoisonMessageError } from "../../shared/errors.js";
import { traceparent } from "../../shared/ids.js";
import { follow } from "../../shared/messages.js";
import { defaultKey, eventHeaders } from "../../shared/outbox.js";

const meta = {
  event_id: "e-1",
  occurred_at: 1_700_000_000_000,
  tenant_id: "tenant-a",
  subscriber_id: "sub-1",
  correlation_id: "order-1",
  causation_id: null,
  producer: "crm",
};

describe("config", () => {
  it("lists every invalid or missing variable at once, by name", () => {
    let error: unknown;
    try {
      loadConfig({ RADIUS_SECRET: z.string().min(8) }, { KAFKA_BROKERS: "no-port", HTTP_PORT: "70000", DATABASE_URL: "mysql://x" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.split(":")[0]);
    expect(problems.sort()).toEqual(["DATABASE_URL", "HTTP_PORT", "KAFKA_BROKERS", "RADIUS_SECRET"]);
    expect((error as ConfigError).message).toContain('KAFKA_BROKERS: expected host:port[,host:port...] (got "no-port")');
  });

  it("applies defaults, treats empty variables as unset and splits broker lists", () => {
    const c = loadConfig({}, { KAFKA_BROKERS: "a:1, b:2", LOG_LEVEL: "" });
    expect(c.KAFKA_BROKERS).toEqual(["a:1", "b:2"]);
    expect(c.LOG_LEVEL).toBe("info");
  });
});

describe("retry backoff", () => {
  const policy = { maxAttempts: 10, initialMs: 100, maxMs: 1_000 };
  it("doubles per attempt up to the cap, with full jitter", () => {
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffMs(a, policy, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffMs(3, policy, () => 0)).toBe(0);
  });
});

describe("follow-on messages", () => {
  it("given a cause, a follow-on keeps tenant, subscriber and correlation and points its causation at the cause", () => {
    const cause: Message<"IpAllocated"> = { type: "IpAllocated", meta, data: { ips: { ipv4: "100.64.0.1", ipv6: null, ipv6_prefix: null, source: "dynamic" } } };
    const ctx = { producer: "radius", now: () => 42, newId: () => "e-2" };
    expect(follow(ctx, cause, "RadiusAccountCreated", { username: "u", plan_group: "p" })).toEqual({
      type: "RadiusAccountCreated",
      meta: { event_id: "e-2", occurred_at: 42, tenant_id: "tenant-a", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: "e-1", producer: "radius" },
      data: { username: "u", plan_group: "p" },
    });
  });
});

describe("keys and headers", () => {
  const status: Message<"OrderAccepted"> = { type: "OrderAccepted", meta, data: { order_id: "order-1", order_type: "provision", subscriber_id: "sub-1", subscriber_number: "S-1" } };
  it("keys lifecycle events by subscriber and order status by order", () => {
    expect(defaultKey(status, "crm.order-status.v1")).toBe("order-1");
    expect(defaultKey({ type: "SubscriberProvisioned", meta, data: { order_id: "order-1" } }, "subscriber.lifecycle.v1")).toBe("sub-1");
  });

  it("puts type, ids and a W3C traceparent in the headers", () => {
    const h = eventHeaders(status);
    expect(h).toMatchObject({ "event-type": "OrderAccepted", "event-id": "e-1", "correlation-id": "order-1", "subscriber-id": "sub-1", "tenant-id": "tenant-a" });
    expect(h).not.toHaveProperty("causation-id");
    expect(h.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // A new span per event, never the all-zero id W3C forbids.
    const spans = new Set(Array.from({ length: 1000 }, () => traceparent("order-1").split("-")[2]));
    expect(spans.size).toBe(1000);
    expect(spans.has("0".repeat(16))).toBe(false);
  });

  it("derives one trace per order and continues an incoming trace", () => {
    const a = traceparent("order-1").split("-")[1];
    expect(traceparent("order-1").split("-")[1]).toBe(a);
    expect(traceparent("order-2").split("-")[1]).not.toBe(a);
    const incoming = `00-${"1".repeat(32)}-${"2".repeat(16)}-01`;
    expect(traceparent("order-1", incoming).split("-")[1]).toBe("1".repeat(32));
    expect(traceparent("order-1", "garbage").split("-")[1]).toBe(a);
  });

  it("gives a dead letter its reason, code and origin, keeping the original headers", () => {
    const h = dlqHeaders(
      { topic: "t", partition: 2, message: { key: null, value: null, offset: "17", timestamp: "5", attributes: 0, headers: { traceparent: "x" } } },
      new PoisonMessageError("not-avro", "bad bytes"),
      "ipam",
      1,
    );
    expect(h).toMatchObject({ traceparent: "x", "dlq-code": "not-avro", "dlq-reason": "bad bytes", "dlq-service": "ipam", "dlq-origin-topic": "t", "dlq-origin-partition": "2", "dlq-origin-offset": "17" });
  });
});

describe("text PostgreSQL can store", () => {
  it("passes ordinary text, nested objects and arrays, and paired surrogates (emoji)", () => {
    expect(() => checkStorable({ a: "Straße 1", b: [{ c: "ok 👍" }], d: null, e: 5 })).not.toThrow();
  });
  it("refuses NUL and unpaired surrogates anywhere, naming the field, as invalid poison", () => {
    for (const bad of ["a\u0000b", "x\uD800", "\uDC00y"]) {
      let caught: unknown;
      try {
        checkStorable({ customer: { names: ["fine", bad] } }, "data");
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PoisonMessageError);
      expect((caught as PoisonMessageError).code).toBe("invalid");
      expect((caught as Error).message).toContain("data.customer.names[1]");
    }
  });
});
