// One subscriber's whole life through every service as its own process: provision, suspend,
// resume, plan change, terminate, with the real FreeRADIUS answering at each step and a NAS on a
// loopback port receiving the RFC 5176 packets; then the same customer provisioned again.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, lifecycleOrder, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { accountingStart, authenticate } from "../../scripts/radclient.js";
import { setupTenants } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { allocations } from "../../services/ipam/store/schema.js";
import { addNas } from "../../services/radius/store/store.js";
import { runId, testEnv } from "../support/env.js";
import { startFakeNas } from "../../scripts/simulated-nas.js";
import { getJson, startAll } from "../support/services.js";
import { tokenFor } from "../support/tokens.js";
import { placeAndAwait, type Outcome } from "../support/outcome.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `life-${run}`;
const nasSecret = `nas-${run}`;
let token: string;
const { sql, db } = connect(testEnv.DATABASE_URL);
let services: Awaited<ReturnType<typeof startAll>>;
let crm: Crm;
let status: Watch;
let lifecycle: Watch;
let nas: Awaited<ReturnType<typeof startFakeNas>>;

const place = (m: Message): Promise<Outcome> => placeAndAwait(crm, status, m);

const order = (n: number, over: Partial<ProvisionOrder> = {}): ProvisionOrder => ({
  order_id: `ord-${run}-${n}`,
  crm_reference: `cust-${run}`,
  first_name: "Grace",
  last_name: "Hopper",
  email: "grace@example.com",
  service_address: "5 Lifecycle Road",
  connection_type: "ftth",
  service_plan_id: "home-100",
  onu_serial: `LIFE${run.slice(-6).toUpperCase()}${n}`,
  service_vlan: 120,
  inner_vlan: 1200 + n,
  qinq_enabled: true,
  circuit_id: `OLT1/1/1/7:${n}`,
  remote_id: `CPE-${n}`,
  option82_policy: "log",
  ipv6_assignment_mode: "none",
  ...over,
});

beforeAll(async () => {
  token = await tokenFor(tenant);
  nas = await startFakeNas(nasSecret);
  await setupTenants(testEnv.DATABASE_URL, [
    {
      tenantId: tenant,
      plans: [
        { planId: "home-100", name: "Home 100", downloadMbps: 100, uploadMbps: 20 },
        { planId: "home-1000", name: "Home 1000", downloadMbps: 1000, uploadMbps: 200 },
      ],
      pools: [{ name: "v4", kind: "ipv4", cidr: "100.67.0.0/28", gateway: "100.67.0.1", isDefault: true }],
      olts: [{ oltId: "olt-1", name: "OLT", onus: [1, 2].map((n) => ({ port: `0/1/${n}`, serial: order(n).onu_serial ?? "" })) }],
    },
  ]);
  await addNas(db, { tenantId: tenant, nasId: "bng-1", address: "127.0.0.1", coaPort: nas.port, secret: nasSecret });
  services = await startAll();
  crm = await connectCrm(testEnv);
  status = await watch(topics.orderStatus);
  lifecycle = await watch(topics.lifecycle);
});

afterAll(async () => {
  await status?.stop();
  await lifecycle?.stop();
  await crm?.close();
  await services?.stop();
  await nas?.close();
  await sql.end();
});

it("provision, suspend, resume, plan change and terminate one subscriber; the same customer again gets the released IP", async () => {
  // Provision.
  const provisioned = await place(provisionOrder(tenant, order(1)));
  expect(provisioned.type).toBe("OrderCompleted");
  const id = (provisioned as Message<"OrderCompleted">).data.subscriber_id;
  const ip = (await lifecycle.waitForType(id, "IpAllocated")).data.ips.ipv4 ?? "";
  const creds = await getJson<{ username: string; password: string }>("radius", `/tenants/${tenant}/subscribers/${id}/radius-credentials`, token);
  const user = creds.body.username;
  expect((await authenticate(user, creds.body.password)).code).toBe("Access-Accept");
  await accountingStart(user, `sess-${run}`, ip); // the BNG opens the session

  // Suspend: Access-Reject from then on, and the NAS gets a Disconnect-Request for the session.
  const suspend = lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `sus-${run}`, subscriber_id: id, reason: "non-payment" });
  expect((await place(suspend)).type).toBe("OrderCompleted");
  const requested = (await lifecycle.waitForType(id, "SubscriberSuspendRequested")).data;
  expect(requested.network).toMatchObject({ service_vlan: 120, inner_vlan: 1201, ipv6_assignment_mode: "none" }); // the profile context
  expect(requested.network_profile_id).toEqual(expect.any(String));
  expect((await authenticate(user, creds.body.password)).code).toBe("Access-Reject");
  const [disconnect] = await nas.receivedFor(user, "Disconnect-Request");
  expect(disconnect?.attributes).toMatchObject({ "User-Name": user, "Framed-IP-Address": ip });

  // A second suspend makes no sense: rejected, nothing changes.
  const again = await place(lifecycleOrder(tenant, "SuspendOrderPlaced", { order_id: `sus2-${run}`, subscriber_id: id, reason: null }));
  expect(again.type).toBe("OrderRejected");

  // Resume: Access-Accept again.
  expect((await place(lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: `res-${run}`, subscriber_id: id }))).type).toBe("OrderCompleted");
  expect((await authenticate(user, creds.body.password)).code).toBe("Access-Accept");

  // Plan change: a CoA-Request with the new rate limit; the new rate on the next Access-Accept; the OLT follows.
  const modify = lifecycleOrder(tenant, "ModifyOrderPlaced", { order_id: `mod-${run}`, subscriber_id: id, service_plan_id: "home-1000", bandwidth_mbps: null, effective_date: null });
  expect((await place(modify)).type).toBe("OrderCompleted");
  const [coa] = await nas.receivedFor(user, "CoA-Request");
  expect(JSON.stringify(coa?.attributes)).toContain("200M/1000M");
  expect((await authenticate(user, creds.body.password)).attributes["Mikrotik-Rate-Limit"]).toBe("200M/1000M");
  expect((await lifecycle.waitForType(id, "OnuBandwidthChanged")).data.bandwidth_mbps).toBe(1000);

  // Terminate: the seed's order, RADIUS gone (Access-Reject, Disconnect), IPs back, profile kept for audit.
  const terminated = await place(lifecycleOrder(tenant, "TerminateOrderPlaced", { order_id: `ter-${run}`, subscriber_id: id, reason: "moved away" }));
  expect(terminated.type).toBe("OrderCompleted");
  await lifecycle.waitForType(id, "SubscriberArchived");
  const teardown = lifecycle
    .about(id)
    .map((m) => m.type)
    .filter((t) => ["RadiusAccountDeleted", "OnuDeactivated", "IpReleased", "BillingServiceTerminated", "NetworkProfileDeleted", "SubscriberArchived"].includes(t));
  expect(teardown).toEqual(["RadiusAccountDeleted", "OnuDeactivated", "IpReleased", "BillingServiceTerminated", "NetworkProfileDeleted", "SubscriberArchived"]);
  expect((await authenticate(user, creds.body.password)).code).toBe("Access-Reject");
  await nas.receivedFor(user, "Disconnect-Request", 2);
  const profile = await getJson<{ deleted_at: string | null; service_vlan: number; inner_vlan: number; static_ipv4: string; circuit_id: string; remote_id: string; option82_policy: string }>(
    "profile",
    `/tenants/${tenant}/subscribers/${id}/network-profile?include_deleted=true`,
    token,
  );
  expect(profile.body).toMatchObject({ service_vlan: 120, inner_vlan: 1201, static_ipv4: ip, circuit_id: "OLT1/1/1/7:1", remote_id: "CPE-1", option82_policy: "log" });
  expect(profile.body.deleted_at).not.toBeNull();
  expect(await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)))).toEqual([]);
  await expect
    .poll(async () => (await getJson<{ status: string }>("projection", `/tenants/${tenant}/subscribers/${id}/service-metadata`, token)).body.status, { timeout: 30_000 })
    .toBe("terminated");

  // Any order for the archived subscriber is rejected.
  expect((await place(lifecycleOrder(tenant, "ResumeOrderPlaced", { order_id: `res2-${run}`, subscriber_id: id }))).type).toBe("OrderRejected");

  // The same customer again: a new subscriber, which gets the released address (a /28 pool).
  const back = await place(provisionOrder(tenant, order(2)));
  expect(back.type).toBe("OrderCompleted");
  const newId = (back as Message<"OrderCompleted">).data.subscriber_id;
  expect(newId).not.toBe(id);
  expect((await lifecycle.waitForType(newId, "IpAllocated")).data.ips.ipv4).toBe(ip);
});
