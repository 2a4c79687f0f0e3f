// The seed's provisioning scenarios end to end: every service as its own process, orders from the
// CRM on crm.orders.v1, outcomes on crm.order-status.v1, the document from the projection, and
// the RADIUS account checked through the real FreeRADIUS.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../schemas/generated/events.js";
import { connectCrm, provisionOrder, type Crm, type ProvisionOrder } from "../../scripts/crm.js";
import { setupTenants, type TenantSpec } from "../../scripts/tenant-setup.js";
import { connect } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { allocations } from "../../services/ipam/store/schema.js";
import { flowOf, onuOf } from "../../services/olt/store/simulated-olt.js";
import { radcheck, radreply } from "../../services/radius/store/schema.js";
import { runId, testEnv } from "../support/env.js";
import { authenticate } from "../../scripts/radclient.js";
import { getJson, startAll } from "../support/services.js";
import { tokenFor } from "../support/tokens.js";
import { watch, type Watch } from "../support/watch.js";

const run = runId();
const tenant = `isp-${run}`;
let token: string;
const { sql, db } = connect(testEnv.DATABASE_URL);
let services: Awaited<ReturnType<typeof startAll>>;
let crm: Crm;
let status: Watch;
let lifecycle: Watch;

const spec: TenantSpec = {
  tenantId: tenant,
  plans: [
    { planId: "fiber-500", name: "Fiber 500", downloadMbps: 500, uploadMbps: 100 },
    { planId: "business-1000", name: "Business 1000", downloadMbps: 1000 },
    { planId: "no-radius-plan", name: "Not in RADIUS", downloadMbps: 50, radius: false },
    { planId: "no-price", name: "Not priced", downloadMbps: 50, monthly: null },
  ],
  pools: [
    { name: "v4", kind: "ipv4", cidr: "100.66.0.0/24", gateway: "100.66.0.1", reserve: ["100.66.0.2-100.66.0.9"], isDefault: true },
    { name: "v6", kind: "ipv6", cidr: "2001:db8:66::/64", gateway: "2001:db8:66::1", isDefault: true },
    { name: "pd56", kind: "ipv6_pd", cidr: "2001:db8:6600::/40", delegatedLength: 56, isDefault: true },
    { name: "pd60", kind: "ipv6_pd", cidr: "2001:db8:7700::/44", delegatedLength: 60 },
    // Business customers' own ranges: statics are bound only inside a pool open to them.
    { name: "business-v4", kind: "ipv4", cidr: "198.51.100.0/24", gateway: "198.51.100.1", usage: "static" },
    { name: "business-v6", kind: "ipv6", cidr: "2001:db8:bee::/64", gateway: "2001:db8:bee::1", usage: "static" },
    { name: "business-pd", kind: "ipv6_pd", cidr: "2001:db8:beef::/48", delegatedLength: 56, usage: "static" },
  ],
  olts: [
    {
      oltId: "olt-1",
      name: "Central office OLT",
      onus: ["ALCL00000001", "ALCL00000002", "ALCL00000003", "ALCL00000004", "ALCL00000005", "ALCL00000006", "ALCL00000007", "ALCL0000FAIL"].map((serial, i) => ({ port: `0/1/${i % 4}`, serial })),
    },
  ],
  failingOnus: [{ serial: "ALCL0000FAIL", error: "LOS: no light on PON port 0/1/3" }],
};

let orders = 0;
const order = (over: Partial<ProvisionOrder> = {}): ProvisionOrder => {
  orders += 1;
  return {
    order_id: `ord-${run}-${orders}`,
    crm_reference: `cust-${run}-${orders}`,
    first_name: "Ada",
    last_name: "Lovelace",
    email: `ada${orders}@example.com`,
    service_address: "1 Fiber Street",
    connection_type: "ftth",
    service_plan_id: "fiber-500",
    // Serials 1..6 end up active; 7 is used by the failures (free again after each rollback).
    onu_serial: `ALCL0000000${Math.min(orders, 7)}`,
    service_vlan: 100,
    inner_vlan: 1000 + orders,
    qinq_enabled: true,
    circuit_id: `OLT1/1/1/1:${orders}`,
    remote_id: `FTTH-CPE-${orders}`,
    option82_policy: "log",
    ipv6_assignment_mode: "dual_stack",
    ipv6_pd_size: 56,
    ...over,
  };
};

type Outcome = Message<"OrderCompleted"> | Message<"OrderFailed"> | Message<"OrderRejected">;

async function provision(o: ProvisionOrder): Promise<Outcome> {
  await crm.place(provisionOrder(tenant, o));
  const ms = await status.waitFor(o.order_id, (list) => list.some((m) => ["OrderCompleted", "OrderFailed", "OrderRejected"].includes(m.type)), 90_000);
  return ms.find((m) => ["OrderCompleted", "OrderFailed", "OrderRejected"].includes(m.type)) as Outcome;
}

const subscriberOf = (outcome: Outcome): string => {
  const id = "subscriber_id" in outcome.data ? outcome.data.subscriber_id : null;
  if (!id) throw new Error(`no subscriber in ${outcome.type}`);
  return id;
};

interface Doc {
  status: string;
  service_metadata: {
    network_profile: { network_profile_id: string | null; service_vlan: number | null; inner_vlan: number | null; qinq_enabled: boolean; ipv6_assignment_mode: string } | null;
    allocated_ips: { ipv4: string | null; ipv6: string | null; ipv6_prefix: string | null; source: string } | null;
    devices: { onu_id: string | null; cpe_id: string | null };
    radius: { username: string | null };
  };
  timeline: { event_type: string }[];
}

/** The projection's document once it reflects `status`. */
async function documentOf(subscriberId: string, wanted: string): Promise<Doc> {
  let last: { status: number; body: Doc } | undefined;
  await expect
    .poll(
      async () => {
        last = await getJson<Doc>("projection", `/tenants/${tenant}/subscribers/${subscriberId}/service-metadata`, token);
        return last.status === 200 ? last.body.status : `http ${last.status}`;
      },
      { timeout: 30_000, interval: 200 },
    )
    .toBe(wanted);
  return (last as { body: Doc }).body;
}

const typesOf = (subscriberId: string) => lifecycle.about(subscriberId).map((m) => m.type);

beforeAll(async () => {
  await setupTenants(testEnv.DATABASE_URL, [spec]);
  token = await tokenFor(tenant);
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
  await sql.end();
});

describe("provisioning through every service", () => {
  let dualStack: string;

  it("provisions a dual-stack FTTH line with QinQ and a delegated prefix (dynamic IPs, written back to the profile)", async () => {
    const o = order();
    const outcome = await provision(o);
    expect(outcome.type).toBe("OrderCompleted");
    dualStack = subscriberOf(outcome);

    await lifecycle.waitForType(dualStack, "SubscriberProvisioned");
    // The write-back runs beside RADIUS, the OLT and billing, off the completion path: it may land after SubscriberProvisioned.
    await lifecycle.waitForType(dualStack, "NetworkProfileUpdated");
    expect(typesOf(dualStack)).toEqual(
      expect.arrayContaining(["SubscriberCreated", "NetworkProfileCreated", "IpAllocated", "NetworkProfileUpdated", "RadiusAccountCreated", "OnuActivated", "BillingServiceCreated", "SubscriberProvisioned"]),
    );
    const ip = lifecycle.about(dualStack).find((m) => m.type === "IpAllocated") as Message<"IpAllocated">;
    expect(ip.data.ips.source).toBe("dynamic");
    expect(ip.data.ips.ipv4).toMatch(/^100\.66\.0\.\d+$/);
    expect(ip.data.ips.ipv6).toMatch(/^2001:db8:66::/);
    expect(ip.data.ips.ipv6_prefix).toMatch(/^2001:db8:66[0-9a-f]{2}:[0-9a-f:]*\/56$/);
    const onu = lifecycle.about(dualStack).find((m) => m.type === "OnuActivated") as Message<"OnuActivated">;
    expect(onu.data).toMatchObject({ onu_serial: o.onu_serial, s_vlan: 100, c_vlan: o.inner_vlan, bandwidth_mbps: 500 });

    const doc = await documentOf(dualStack, "active");
    expect(doc.service_metadata).toEqual({
      network_profile: { network_profile_id: expect.any(String), service_vlan: 100, inner_vlan: o.inner_vlan, qinq_enabled: true, ipv6_assignment_mode: "dual_stack" },
      allocated_ips: { ipv4: ip.data.ips.ipv4, ipv6: ip.data.ips.ipv6, ipv6_prefix: ip.data.ips.ipv6_prefix, source: "dynamic" },
      devices: { onu_id: onu.data.onu_id, cpe_id: null },
      radius: { username: expect.stringContaining(`@${tenant}`) },
    });

    // Dynamic IPs written back to the profile.
    const profile = await getJson<{ static_ipv4: string | null; static_ipv6: string | null; delegated_ipv6_prefix: string | null }>(
      "profile",
      `/tenants/${tenant}/subscribers/${dualStack}/network-profile`,
      token,
    );
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ static_ipv4: ip.data.ips.ipv4, static_ipv6: ip.data.ips.ipv6, delegated_ipv6_prefix: ip.data.ips.ipv6_prefix });

    // FreeRADIUS authenticates the subscriber and hands out the allocated addresses and both VLAN tags.
    const creds = await getJson<{ username: string; password: string }>("radius", `/tenants/${tenant}/subscribers/${dualStack}/radius-credentials`, token);
    expect(creds.status).toBe(200);
    const answer = await authenticate(creds.body.username, creds.body.password);
    expect(answer.code).toBe("Access-Accept");
    expect(answer.attributes).toMatchObject({
      "Framed-IP-Address": ip.data.ips.ipv4,
      "Framed-IPv6-Address": ip.data.ips.ipv6,
      "Delegated-IPv6-Prefix": ip.data.ips.ipv6_prefix,
      "Tunnel-Private-Group-Id:1": "100",
      "Tunnel-Private-Group-Id:2": String(o.inner_vlan),
      "Mikrotik-Rate-Limit": "100M/500M",
    });
    expect((await authenticate(creds.body.username, "not-the-password")).code).toBe("Access-Reject");
  });

  it("uses the profile's static IPs and skips dynamic allocation (source network_profile)", async () => {
    const o = order({ service_plan_id: "business-1000", static_ipv4: "198.51.100.10", static_ipv6: "2001:db8:bee::10", delegated_ipv6_prefix: "2001:db8:beef:100::/56", qinq_enabled: false, inner_vlan: null, service_vlan: 200 });
    const outcome = await provision(o);
    expect(outcome.type).toBe("OrderCompleted");
    const id = subscriberOf(outcome);
    const ip = (await lifecycle.waitForType(id, "IpAllocated")).data.ips;
    expect(ip).toEqual({ ipv4: "198.51.100.10", ipv6: "2001:db8:bee::10", ipv6_prefix: "2001:db8:beef:100::/56", source: "network_profile" });
    await lifecycle.waitForType(id, "SubscriberProvisioned");
    expect(typesOf(id)).not.toContain("NetworkProfileUpdated"); // nothing to write back
    const rows = await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)));
    expect(rows.map((r) => r.source)).toEqual(["network_profile", "network_profile", "network_profile"]);
    const doc = await documentOf(id, "active");
    expect(doc.service_metadata.allocated_ips?.source).toBe("network_profile");
    expect(doc.service_metadata.network_profile).toMatchObject({ service_vlan: 200, inner_vlan: null, qinq_enabled: false });
    // Single-tagged: one VLAN tag in RADIUS and on the OLT.
    const username = doc.service_metadata.radius.username ?? "";
    const reply = await db.select().from(radreply).where(eq(radreply.username, username));
    expect(reply.filter((r) => r.attribute.startsWith("Tunnel-Private-Group-Id")).map((r) => [r.attribute, r.value])).toEqual([["Tunnel-Private-Group-Id:1", "200"]]);
    expect(await flowOf(db, tenant, o.onu_serial ?? "")).toMatchObject({ sVlan: 200, cVlan: null });
  });

  it("skips ONU activation for a line that is not FTTH", async () => {
    const outcome = await provision(order({ connection_type: "ethernet", onu_serial: null, ipv6_assignment_mode: "none", ipv6_pd_size: null }));
    expect(outcome.type).toBe("OrderCompleted");
    const id = subscriberOf(outcome);
    await lifecycle.waitForType(id, "SubscriberProvisioned");
    expect(typesOf(id)).toContain("OnuActivationSkipped");
    expect(typesOf(id)).not.toContain("OnuActivated");
    const doc = await documentOf(id, "active");
    expect(doc.service_metadata.devices).toEqual({ onu_id: null, cpe_id: null });
    expect(doc.service_metadata.allocated_ips).toMatchObject({ ipv6: null, ipv6_prefix: null, source: "dynamic" });
  });

  it("rejects an invalid order with every reason at once, and creates nothing", async () => {
    const o = order({ service_vlan: 5000, inner_vlan: 7, qinq_enabled: false, option82_policy: "sometimes", ipv6_assignment_mode: "magic", ipv6_pd_size: 70, static_ipv4: "300.1.1.1", service_plan_id: "gold" });
    const outcome = await provision(o);
    expect(outcome.type).toBe("OrderRejected");
    const codes = (outcome as Message<"OrderRejected">).data.reasons.map((r) => r.field);
    expect(codes).toEqual(expect.arrayContaining(["service_vlan", "inner_vlan", "option82_policy", "ipv6_assignment_mode", "ipv6_pd_size", "static_ipv4", "service_plan_id"]));
    expect(lifecycle.about(o.order_id)).toEqual([]);
  });

  it("treats the same order id twice as one subscriber", async () => {
    const o = order();
    const first = await provision(o);
    expect(first.type).toBe("OrderCompleted");
    await crm.place(provisionOrder(tenant, o)); // same order id, new event
    const marker = order({ connection_type: "ethernet", onu_serial: null, ipv6_assignment_mode: "none", ipv6_pd_size: null });
    await provision(marker); // placed after the duplicate: once it is done, the duplicate was handled
    const created = lifecycle.seen.filter((s) => s.message.type === "SubscriberCreated" && (s.message as Message<"SubscriberCreated">).data.order_id === o.order_id);
    expect(created).toHaveLength(1);
  });
});

describe("a failure at a step rolls back every earlier step", () => {
  const cases = [
    { step: "ipam", over: () => ({ static_ipv4: "100.66.0.1" }) }, // the pool's gateway: refused
    { step: "radius", over: () => ({ service_plan_id: "no-radius-plan" }) },
    { step: "olt", over: () => ({ onu_serial: "ALCL0000FAIL" }) },
    { step: "billing", over: () => ({ service_plan_id: "no-price" }) },
  ] as const;
  // Undo order: latest step first; ipam releases only after RADIUS is gone, the profile goes last.
  const undoOrder = ["BillingServiceCancelled", "OnuDeactivated", "RadiusAccountDeleted", "IpReleased", "NetworkProfileDeleted"];

  for (const c of cases) {
    it(`at ${c.step}: OrderFailed names the step, each earlier step undoes its work, latest first`, async () => {
      const o = order({ onu_serial: "ALCL00000007", ...c.over() });
      const outcome = await provision(o);
      expect(outcome.type).toBe("OrderFailed");
      const failed = outcome as Message<"OrderFailed">;
      expect(failed.data.step).toBe(c.step);
      const id = subscriberOf(outcome);
      await lifecycle.waitForType(id, "SubscriberProvisioningRolledBack");
      const undone = typesOf(id).filter((t) => undoOrder.includes(t));
      const expected = { ipam: ["NetworkProfileDeleted"], radius: ["IpReleased", "NetworkProfileDeleted"], olt: ["RadiusAccountDeleted", "IpReleased", "NetworkProfileDeleted"], billing: ["OnuDeactivated", "RadiusAccountDeleted", "IpReleased", "NetworkProfileDeleted"] }[c.step];
      expect(undone).toEqual(expected);

      // Profile soft-deleted (kept for audit), IPs back in the pool, RADIUS rows gone, ONU deactivated.
      const hidden = await getJson("profile", `/tenants/${tenant}/subscribers/${id}/network-profile`, token);
      expect(hidden.status).toBe(404);
      const kept = await getJson<{ deleted_at: string | null; service_vlan: number }>("profile", `/tenants/${tenant}/subscribers/${id}/network-profile?include_deleted=true`, token);
      expect(kept.body.deleted_at).not.toBeNull();
      expect(kept.body.service_vlan).toBe(100);
      expect(await db.select().from(allocations).where(and(eq(allocations.tenantId, tenant), eq(allocations.subscriberId, id)))).toEqual([]);
      const doc = await documentOf(id, "rolled_back");
      expect(doc.service_metadata.allocated_ips).toBeNull();
      const radiusUser = lifecycle.about(id).find((m) => m.type === "RadiusAccountCreated") as Message<"RadiusAccountCreated"> | undefined;
      if (radiusUser) expect(await db.select().from(radcheck).where(eq(radcheck.username, radiusUser.data.username))).toEqual([]);
      if (o.onu_serial) {
        expect(await flowOf(db, tenant, o.onu_serial)).toBeNull();
        expect((await onuOf(db, tenant, o.onu_serial))?.state).toBe("discovered");
      }
    });
  }

  it("returns dynamic IPs to the pool so a later subscriber can get them", async () => {
    const o = order({ service_plan_id: "no-price", ipv6_assignment_mode: "none", ipv6_pd_size: null, onu_serial: "ALCL00000007" });
    const failedOutcome = await provision(o);
    const id = subscriberOf(failedOutcome);
    const released = (await lifecycle.waitForType(id, "IpReleased")).data.ips.ipv4;
    const again = await provision(order({ ipv6_assignment_mode: "none", ipv6_pd_size: null, onu_serial: o.onu_serial }));
    expect(again.type).toBe("OrderCompleted");
    const reused = (await lifecycle.waitForType(subscriberOf(again), "IpAllocated")).data.ips.ipv4;
    expect(reused).toBe(released);
  });
});

// Last in the file: its orders take numbers, and the serials above are numbered by order.
describe("a QinQ pair is one subscriber's", () => {
  it("fails an order whose QinQ pair another live subscriber holds (vlan_in_use at the profile step): no IP, RADIUS account or ONU for it", async () => {
    const line = { connection_type: "ethernet", onu_serial: null, ipv6_assignment_mode: "none", ipv6_pd_size: null, service_vlan: 100, inner_vlan: 1999 } as const;
    const first = await provision(order(line));
    expect(first.type).toBe("OrderCompleted");
    const second = await provision(order(line));
    expect(second.type).toBe("OrderFailed");
    expect(second.data).toMatchObject({ order_type: "provision", step: "profile", code: "vlan_in_use", reason: `QinQ VLAN pair 100/1999 already belongs to subscriber ${subscriberOf(first)}` });
    const id = subscriberOf(second);
    await lifecycle.waitForType(id, "SubscriberProvisioningRolledBack");
    const types = typesOf(id);
    expect(types).toContain("NetworkProfileCreationFailed");
    for (const t of ["NetworkProfileCreated", "NetworkProfileSkipped", "IpAllocated", "RadiusAccountCreated", "OnuActivated", "BillingServiceCreated"]) expect(types).not.toContain(t);
  });
});
