// The profile service down never blocks provisioning (issue 8, defect 4; the seed: "profile
// failures never block provisioning"): after PROFILE_DEADLINE_MS the subscriber service skips the
// profile step (NetworkProfileSkipped, code timeout) and the chain goes on with the order's
// network settings. When the profile service comes back it stores the profile late, without a
// second allocation; the OLT still keeps a QinQ pair to one subscriber, which the profile service
// could not check meanwhile.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { allocations } from "../../services/ipam/store/schema.js";
import { runId, testEnv } from "../support/env.js";
import { allServices, startAll } from "../support/services.js";
import { placeAndAwait, type Outcome } from "../support/outcome.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `pto-${run}`;
const { sql, db } = connect(testEnv.DATABASE_URL);
// A short profile deadline, swept often, for this tenant only (other tests share the database).
const sweep = { PROFILE_DEADLINE_MS: "1500", DEADLINE_SWEEP_MS: "250", DEADLINE_SWEEP_TENANTS: tenant };
let withoutProfile: Awaited<ReturnType<typeof startAll>> | undefined;
let profile: Awaited<ReturnType<typeof startAll>> | undefined;
let crm: Crm;
let status: Watch;
let lifecycle: Watch;

const place = (m: Message): Promise<Outcome> => placeAndAwait(crm, status, m);

const serial = (n: number) => `PTO${run.slice(-6).toUpperCase()}${n}`;
const order = (n: number): ProvisionOrder => ({
  order_id: `ord-${run}-${n}`,
  crm_reference: `cust-${run}-${n}`,
  first_name: "Radia",
  last_name: "Perlman",
  email: "radia@example.com",
  service_address: "3 Spanning Tree Lane",
  connection_type: "ftth",
  service_plan_id: "home-100",
  onu_serial: serial(n),
  service_vlan: 140,
  inner_vlan: 1400, // both orders ask for the same QinQ pair
  qinq_enabled: true,
  ipv6_assignment_mode: "none",
});

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [{ planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 }],
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.69.0.0/28", gateway: "100.69.0.1", isDefault: true }],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [1, 2, 3].map((n) => ({ port: `0/1/${n}`, serial: serial(n) })) }],
    },
  ]);
  withoutProfile = await startAll(allServices.filter((s) => s !== "profile"), sweep);
  crm = await connectCrm(testEnv);
  status = await watch(topics.orderStatus);
  lifecycle = await watch(topics.lifecycle);
});

afterAll(async () => {
  await status?.stop();
  await lifecycle?.stop();
  await crm?.close();
  await profile?.stop();
  await withoutProfile?.stop();
  await sql.end();
});

it("with the profile service down, provisioning completes from the order's settings; back up, it stores the profile late without a second allocation", async () => {
  const done = await place(provisionOrder(tenant, order(1)));
  expect(done.type).toBe("OrderCompleted");
  const id = (done as Message<"OrderCompleted">).data.subscriber_id;
  const skipped = await lifecycle.waitForType(id, "NetworkProfileSkipped");
  expect(skipped.data.code).toBe("timeout");
  expect(skipped.meta.producer).toBe("subscriber");
  expect(skipped.data.network).toMatchObject({ service_vlan: 140, inner_vlan: 1400, qinq_enabled: true });
  const allocated = await lifecycle.waitForType(id, "IpAllocated");
  expect((await lifecycle.waitForType(id, "OnuActivated")).data).toMatchObject({ s_vlan: 140, c_vlan: 1400 });

  // A second order for the same QinQ pair, the profile service still down: the OLT refuses it.
  const clash = await place(provisionOrder(tenant, order(2)));
  expect(clash.type).toBe("OrderFailed");
  expect(clash.data).toMatchObject({ step: "olt", code: "vlan_in_use" });

  // A third subscriber's whole life (provision, terminate) goes by while the profile service is down.
  const gone = await place(provisionOrder(tenant, { ...order(3), inner_vlan: 1403 }));
  expect(gone.type).toBe("OrderCompleted");
  const goneId = (gone as Message<"OrderCompleted">).data.subscriber_id;
  expect((await place(lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `ter3-${run}`, subscriber_id: goneId, reason: null }))).type).toBe("OrderCompleted");

  // The profile service comes back: it works through what it missed.
  profile = await startAll(["profile"], sweep);
  const created = await lifecycle.waitForType(id, "NetworkProfileCreated");
  expect(created.data.profile.config).toMatchObject({ service_vlan: 140, inner_vlan: 1400 });
  await lifecycle.waitFor(id, (ms) => ms.some((m) => m.type === "NetworkProfileUpdated"), 30_000); // the IP write-back
  const held = await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)));
  expect(held.map((a) => a.address)).toEqual([allocated.data.ips.ipv4]);
  expect(lifecycle.about(id).filter((m) => m.type === "IpAllocated")).toHaveLength(1);

  // The profile it stores late for the archived subscriber goes at once (soft-deleted, kept for audit).
  const late = await lifecycle.waitFor(goneId, (ms) => ms.some((m) => m.type === "NetworkProfileDeleted"), 30_000);
  const afterArchive = late.map((m) => m.type).slice(late.findIndex((m) => m.type === "SubscriberArchived"));
  expect(afterArchive[1]).toBe("NetworkProfileCreated");
  expect(afterArchive.at(-1)).toBe("NetworkProfileDeleted");

  // The late profile is the subscriber's: a termination soft-deletes it with the rest.
  expect((await place(lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `ter-${run}`, subscriber_id: id, reason: null }))).type).toBe("OrderCompleted");
  expect((await lifecycle.waitForType(id, "NetworkProfileDeleted")).data.soft_deleted).toBe(true);
});
