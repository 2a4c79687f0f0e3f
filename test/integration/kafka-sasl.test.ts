// Kafka as production runs it, with SASL/SCRAM-SHA-512: every service, the CRM and the order
// status reader connect only to the local broker's SASL listener (infra/kafka.sh; 127.0.0.1:9094,
// user and password in .stack/stack.env) and a provisioning order completes end to end. A service
// given a wrong password stays up and not ready, says which variables to check, and keeps trying.
import { createServer } from "node:net";
import type { Consumer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../schemas/catalog.js";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, provisionOrder, type Crm } from "../../scripts/crm.js";
import { setupTenants, type TenantSpec } from "../../scripts/tenant-setup.js";
import { createCodec } from "../../shared/codec.js";
import { loadConfig } from "../../shared/config.js";
import { createKafka } from "../../shared/kafka.js";
import { createLogger } from "../../shared/logger.js";
import { topics } from "../../shared/topics.js";
import { runId, saslListener, testEnv } from "../support/env.js";
import { waitUntil } from "../support/kafka.js";
import { startProcess } from "../support/process.js";
import { startAll } from "../support/services.js";

const sasl = saslListener();
const why = "the local stack's broker has no SASL listener (no STACK_KAFKA_SASL_* in .stack/stack.env): restart the stack (bash infra/stack.sh down; bash infra/stack.sh up) to get one";
if (!sasl) console.warn(`kafka-sasl.test.ts SKIPPED: ${why}`);

const saslEnv = (password: string): Record<string, string> => ({
  KAFKA_BROKERS: sasl?.brokers ?? "",
  KAFKA_SASL_MECHANISM: "scram-sha-512",
  KAFKA_SASL_USERNAME: sasl?.username ?? "",
  KAFKA_SASL_PASSWORD: password,
});

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

describe.skipIf(!sasl)(sasl ? "Kafka with SASL/SCRAM-SHA-512" : `Kafka with SASL/SCRAM-SHA-512 (skipped: ${why})`, () => {
  it("a service with a wrong password does not consume: it stays up, /readyz 503, one clear line per attempt, the password never shown", async () => {
    const port = await freePort();
    const wrong = "not-the-password-4711";
    const proc = startProcess("services/subscriber/main.ts", { ...testEnv, ...saslEnv(wrong), HTTP_PORT: String(port), LOG_LEVEL: "info" });
    const refusals = () => (proc.output().match(/kafka refused this service's credentials at start-up \(check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD\)/g) ?? []).length;
    try {
      // Two refusals: it was refused, waited, and tried again rather than exiting.
      await waitUntil(() => refusals() >= 2 || proc.child.exitCode !== null, 90_000, () => `two refusal lines; output so far:\n${proc.output()}`);
      expect(proc.child.exitCode).toBeNull();
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: "not ready", waiting_for: "kafka (credentials refused)" });
      expect(proc.output()).toContain("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512");
      expect(proc.output()).not.toContain("service started");
      expect(proc.output()).not.toContain(wrong);
    } finally {
      proc.child.kill("SIGTERM");
    }
    // A signal while it waits ends the start-up cleanly.
    expect((await proc.exited).code).toBe(0);
  });

  describe("with the right password", () => {
    const run = runId();
    const tenant = `isp-sasl-${run}`;
    const spec: TenantSpec = {
      tenantId: tenant,
      plans: [{ planId: "fiber-300", name: "Fiber 300", downloadMbps: 300, uploadMbps: 60 }],
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.67.0.0/24", gateway: "100.67.0.1", isDefault: true }],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [{ port: "0/1/0", serial: `SASL${run.slice(-8).toUpperCase()}` }] }],
    };
    const env = saslEnv(sasl?.password ?? "");
    let services: Awaited<ReturnType<typeof startAll>> | undefined;
    let crm: Crm | undefined;
    let statusConsumer: Consumer | undefined;
    const outcomes = new Map<string, Message>();

    beforeAll(async () => {
      await setupTenants(testEnv.DATABASE_URL, [spec]);
      services = await startAll(undefined, env);
      crm = await connectCrm({ ...testEnv, ...env });
      // The CRM's side of crm.order-status.v1, read over SASL too, from its current end.
      const config = loadConfig({}, { ...testEnv, ...env });
      const kafka = createKafka(config, "sasl-test-status", createLogger("sasl-test", "silent"));
      const codec = createCodec(config, loadCatalog());
      const admin = kafka.admin();
      await admin.connect();
      const marks = await admin.fetchTopicOffsets(topics.orderStatus);
      await admin.disconnect();
      statusConsumer = kafka.consumer({ groupId: `sasl-test-${run}` });
      await statusConsumer.connect();
      await statusConsumer.subscribe({ topic: topics.orderStatus, fromBeginning: true });
      await statusConsumer.run({
        eachMessage: async ({ message }) => {
          const m = (await codec.decode(message.value)).message;
          if ("order_id" in m.data && ["OrderCompleted", "OrderFailed", "OrderRejected"].includes(m.type)) outcomes.set(m.data.order_id, m);
        },
      });
      for (const m of marks) statusConsumer.seek({ topic: topics.orderStatus, partition: m.partition, offset: m.high });
    });

    afterAll(async () => {
      await statusConsumer?.disconnect();
      await crm?.close();
      await services?.stop();
    });

    it("provisions an FTTH order end to end: OrderCompleted", async () => {
      const orderId = `ord-sasl-${run}`;
      await crm?.place(
        provisionOrder(tenant, {
          order_id: orderId,
          crm_reference: `cust-sasl-${run}`,
          first_name: "Grace",
          last_name: "Hopper",
          email: "grace@example.com",
          service_address: "2 Fiber Street",
          connection_type: "ftth",
          service_plan_id: "fiber-300",
          onu_serial: spec.olts[0]?.onus[0]?.serial ?? null,
          service_vlan: 300,
          inner_vlan: 3001,
          qinq_enabled: true,
          ipv6_assignment_mode: "none",
        }),
      );
      await waitUntil(() => outcomes.has(orderId), 90_000, () => `the outcome of ${orderId}`);
      expect(outcomes.get(orderId)?.type).toBe("OrderCompleted");
    });
  });
});
