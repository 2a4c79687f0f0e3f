// The error split of the consumer runner: what waits for a dependency, what is poison, what is a bug.
import { describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { refused } from "../../shared/codec.js";
import { checkTopic } from "../../shared/consumer.js";
import { DependencyUnavailable, isPoison, isTransient, PoisonMessageError } from "../../shared/errors.js";
import { topics } from "../../shared/topics.js";

const pgError = (code: string) => Object.assign(new Error(`postgres ${code}`), { code });
const wrapped = (cause: unknown) => Object.assign(new Error("Failed query: ..."), { name: "DrizzleQueryError", cause });

describe("isTransient: a dependency that is away waits, it is never dead-lettered", () => {
  it.each([
    ["connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })],
    [
      "PostgreSQL's Unix socket gone while it is down",
      Object.assign(new Error("connect ENOENT /var/run/postgresql/.s.PGSQL.5432"), { code: "ENOENT", errno: -2, syscall: "connect", address: "/var/run/postgresql/.s.PGSQL.5432" }),
    ],
    ["a query error wrapping a missing Unix socket", wrapped(Object.assign(new Error("connect ENOENT /var/run/postgresql/.s.PGSQL.5432"), { code: "ENOENT", syscall: "connect" }))],
    ["connection closed by postgres.js", Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" })],
    ["admin shutdown (57P01)", pgError("57P01")],
    ["cannot connect now, starting up (57P03)", pgError("57P03")],
    ["serialization failure (40001)", pgError("40001")],
    ["deadlock (40P01)", pgError("40P01")],
    ["too many connections (53300)", pgError("53300")],
    ["a query error wrapping a lost connection", wrapped(pgError("08006"))],
    ["the registry not answering", new DependencyUnavailable("schema registry", new TypeError("fetch failed"))],
    ["a kafkajs connection error", Object.assign(new Error("Connection error"), { name: "KafkaJSConnectionError", retriable: true })],
  ])("%s", (_what, err) => {
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    ["a unique violation (23505): a bug or bad data, not an outage", pgError("23505")],
    ["a syntax error in our SQL (42601)", wrapped(pgError("42601"))],
    ["a file that is missing (ENOENT on open)", Object.assign(new Error("ENOENT: no such file or directory, open 'migrations/meta/_journal.json'"), { code: "ENOENT", syscall: "open" })],
    ["a TypeError in a handler", new TypeError("cannot read properties of undefined")],
    ["poison", new PoisonMessageError("invalid", "no subscriber id")],
  ])("not %s", (_what, err) => {
    expect(isTransient(err)).toBe(false);
  });
});

describe("checkTopic: each topic accepts only its own record types", () => {
  const contract = new Set(Object.values(topics));
  const allocated = { type: "IpAllocated", meta: {}, data: {} } as unknown as Message;
  const order = { type: "ProvisionOrderPlaced", meta: {}, data: {} } as unknown as Message;

  it("takes a lifecycle fact on the lifecycle topic and an order on the orders topic", () => {
    expect(() => checkTopic(allocated, topics.lifecycle, contract)).not.toThrow();
    expect(() => checkTopic(order, topics.crmOrders, contract)).not.toThrow();
  });

  it("refuses a lifecycle fact written to the orders topic, and an order written to the lifecycle topic, as wrong-topic poison", () => {
    for (const [m, topic] of [
      [allocated, topics.crmOrders],
      [order, topics.lifecycle],
    ] as const) {
      let err: unknown;
      try {
        checkTopic(m, topic, contract);
      } catch (e) {
        err = e;
      }
      expect(isPoison(err) && err.code).toBe("wrong-topic");
    }
  });

  it("leaves topics outside the contract (test topics) alone", () => {
    expect(() => checkTopic(order, "test.some-topic", contract)).not.toThrow();
  });
});

describe("the registry's answers at start-up (codec.refused)", () => {
  const answer = (status: number, message: string) => Object.assign(new Error(message), { status });
  it("takes a 4xx for a refusal, but not a request that never reached the registry (the client reports those as 400 too)", () => {
    expect(refused(answer(409, "Schema being registered is incompatible with an earlier schema"))).toBe(true);
    expect(refused(answer(422, "Invalid schema"))).toBe(true);
    expect(refused(answer(400, "Confluent_Schema_Registry - Error, status 400: connect ECONNREFUSED 127.0.0.1:18981"))).toBe(false);
    expect(refused(answer(400, "Confluent_Schema_Registry - Error, status 400: socket hang up"))).toBe(false);
    expect(refused(answer(503, "Service Unavailable"))).toBe(false);
    expect(refused(new Error("no status at all"))).toBe(false);
  });
});
