import { describe, expect, it } from "vitest";
import type { EventData, EventName, FiberNetworkConfig, Message } from "../../schemas/generated/events.js";
import type { EventContext } from "../../shared/messages.js";
import { allocated, choosePool, evolve, familiesFor, initialState, planAllocation, planRelease, released, type Held, type IpamState, type PoolInfo } from "./decide.js";
import { network as storyNetwork } from "../../test/support/story.js";

const ctx: EventContext = { producer: "ipam", now: () => 1_700_000_000_000, newId: () => "evt-out" };
let seq = 0;
const msg = <K extends EventName>(type: K, data: EventData<K>): Message<K> =>
  ({
    type,
    meta: { event_id: `evt-${++seq}`, occurred_at: 1, tenant_id: "t1", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: null, producer: "test" },
    data,
  }) as Message<K>;

const network = (over: Partial<FiberNetworkConfig> = {}): FiberNetworkConfig => storyNetwork({ inner_vlan: null, qinq_enabled: false, ...over });

const pool = (over: Partial<PoolInfo>): PoolInfo => ({
  id: "p",
  name: "p",
  family: "ipv4",
  cidr: "100.64.0.0/22",
  gateway: "100.64.0.1",
  delegatedLength: null,
  isDefault: false,
  usage: "both",
  reserved: [],
  ...over,
});
const v4 = pool({ id: "v4", name: "v4", isDefault: true, reserved: [{ first: 1n, last: 1n, label: "gateway 100.64.0.1" }, { first: 2n, last: 15n, label: "100.64.0.2-100.64.0.15" }] });
const v4Business = pool({ id: "v4b", name: "business", cidr: "100.65.0.0/24", gateway: null });
const v4Dynamic = pool({ id: "v4d", name: "cgnat", cidr: "100.66.0.0/24", gateway: null, usage: "dynamic" });
const v4Static = pool({ id: "v4s", name: "customer-ranges", cidr: "10.0.0.0/24", gateway: null, usage: "static" });
const v6 = pool({ id: "v6", name: "v6", family: "ipv6", cidr: "2001:db8:ffff::/64", gateway: null, isDefault: true });
const v6Static = pool({ id: "v6s", name: "v6-static", family: "ipv6", cidr: "2001:db8:5000::/64", gateway: null, usage: "static" });
const pd56 = pool({ id: "pd56", name: "pd56", family: "ipv6_pd", cidr: "2001:db8:100::/40", gateway: null, delegatedLength: 56, isDefault: true });
const pd60 = pool({ id: "pd60", name: "pd60", family: "ipv6_pd", cidr: "2001:db8:200::/44", gateway: null, delegatedLength: 60 });
const pdStatic = pool({ id: "pds", name: "pd-static", family: "ipv6_pd", cidr: "2001:db8:b0b:100::/56", gateway: null, delegatedLength: 60, usage: "static" });
const pools = [v4, v4Business, v4Dynamic, v4Static, v6, v6Static, pd56, pd60, pdStatic];

const created = (n: FiberNetworkConfig) => msg("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: n, metadata: {} } });
const skipped = (n: FiberNetworkConfig) => msg("NetworkProfileSkipped", { code: null, reason: "profile disabled", network: n });
const subscriberCreated = (n: FiberNetworkConfig) =>
  msg("SubscriberCreated", {
    order_id: "order-1",
    subscriber_number: "SUB-1",
    crm_reference: "crm-1",
    customer: { first_name: "A", last_name: "B", email: "a@b.c", phone: null },
    service_address: "1 Main St",
    connection_type: "ftth",
    service_plan_id: "res-100",
    bandwidth_mbps: 100,
    onu_serial: null,
    network: n,
    metadata: {},
  });
const given = (...events: Message[]): IpamState => events.reduce(evolve, initialState);

describe("what to allocate per IPv6 assignment mode", () => {
  it("none gives IPv4 only; slaac and stateful add an IPv6 address; pd adds a prefix; dual_stack all three", () => {
    expect(familiesFor("none")).toEqual(["ipv4"]);
    expect(familiesFor("slaac")).toEqual(["ipv4", "ipv6"]);
    expect(familiesFor("stateful")).toEqual(["ipv4", "ipv6"]);
    expect(familiesFor("pd")).toEqual(["ipv4", "ipv6_pd"]);
    expect(familiesFor("dual_stack")).toEqual(["ipv4", "ipv6", "ipv6_pd"]);
    expect(familiesFor("bogus")).toBeNull();
  });

  it("dual_stack with no statics plans three dynamic units from the default pools", () => {
    const plan = planAllocation(created(network({ ipv6_assignment_mode: "dual_stack" })), initialState, [], pools);
    expect(plan).toEqual({
      kind: "allocate",
      source: "dynamic",
      items: [
        { family: "ipv4", kind: "dynamic", pool: v4 },
        { family: "ipv6", kind: "dynamic", pool: v6 },
        { family: "ipv6_pd", kind: "dynamic", pool: pd56 },
      ],
    });
  });
});

describe("priority: static IPs of the profile, then of the order, then dynamic", () => {
  it("static IPs of the profile win over the order's, and no pool is touched", () => {
    // given the order had other statics
    const state = given(subscriberCreated(network({ static_ipv4: "10.0.0.99" })));
    // when the profile brings its own
    const plan = planAllocation(created(network({ static_ipv4: "10.0.0.100", static_ipv6: "2001:DB8:5000::1", ipv6_assignment_mode: "slaac" })), state, [], pools);
    // then each is bound where it lies in a static pool
    expect(plan).toEqual({
      kind: "allocate",
      source: "network_profile",
      items: [
        { family: "ipv4", kind: "static", address: "10.0.0.100", source: "network_profile", poolId: "v4s", idx: 100n },
        { family: "ipv6", kind: "static", address: "2001:db8:5000::1", source: "network_profile", poolId: "v6s", idx: 1n },
      ],
    });
  });

  it("a profile without statics falls back to the order's statics", () => {
    const state = given(subscriberCreated(network({ static_ipv4: "10.0.0.99" })));
    const plan = planAllocation(created(network()), state, [], pools);
    expect(plan).toMatchObject({ kind: "allocate", source: "order_static", items: [{ family: "ipv4", kind: "static", address: "10.0.0.99" }] });
  });

  it("a skipped profile uses the order data it carries: statics as order_static", () => {
    const plan = planAllocation(skipped(network({ static_ipv4: "10.0.0.5" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "allocate", source: "order_static", items: [{ kind: "static", address: "10.0.0.5" }] });
  });

  it("families the mode needs without a static come from pools, and the source says dynamic", () => {
    const plan = planAllocation(created(network({ static_ipv4: "10.0.0.5", ipv6_assignment_mode: "pd" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "allocate", source: "dynamic", items: [{ kind: "static", family: "ipv4" }, { kind: "dynamic", family: "ipv6_pd", pool: pd56 }] });
  });

  it("a static delegated prefix is honoured like a static IP", () => {
    const plan = planAllocation(created(network({ static_ipv4: "10.0.0.5", delegated_ipv6_prefix: "2001:db8:b0b:110::/60", ipv6_assignment_mode: "pd" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "allocate", source: "network_profile", items: [{ kind: "static" }, { kind: "static", family: "ipv6_pd", address: "2001:db8:b0b:110::/60", poolId: "pds", idx: 1n }] });
  });

  it("a static IPv4 that is not an IPv4 address fails as invalid_static_ip", () => {
    const plan = planAllocation(created(network({ static_ipv4: "2001:db8::1" })), initialState, [], pools);
    expect(plan).toEqual({ kind: "fail", failure: { code: "invalid_static_ip", reason: "static IPv4: '2001:db8::1' is not an IPv4 address" } });
  });

  it("a static IP that is a pool's gateway fails as invalid_static_ip", () => {
    const plan = planAllocation(created(network({ static_ipv4: "100.64.0.1" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "fail", failure: { code: "invalid_static_ip", reason: expect.stringContaining("gateway of pool 'v4'") } });
  });

  it.each([
    ["the network address of an IPv4 pool", { static_ipv4: "100.65.0.0" }, "network address of pool 'business'"],
    ["the broadcast address of an IPv4 pool", { static_ipv4: "100.65.0.255" }, "broadcast address of pool 'business'"],
    ["the subnet-router anycast address of an IPv6 pool", { static_ipv6: "2001:db8:ffff::", ipv6_assignment_mode: "slaac" }, "anycast address of pool 'v6'"],
    ["a /60 inside a PD pool delegating /56", { delegated_ipv6_prefix: "2001:db8:100:10::/60", ipv6_assignment_mode: "pd" }, "without being one of its /56 units"],
    ["a /36 holding a PD pool's units", { delegated_ipv6_prefix: "2001:db8::/36", ipv6_assignment_mode: "pd" }, "overlaps pool 'pd56'"],
    ["a delegated prefix over the IPv6 address pool", { delegated_ipv6_prefix: "2001:db8:ffff::/56", ipv6_assignment_mode: "pd" }, "overlaps the IPv6 address pool 'v6'"],
  ])("a static that is %s fails as invalid_static_ip", (_what, fields, reason) => {
    const plan = planAllocation(created(network(fields)), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "fail", failure: { code: "invalid_static_ip", reason: expect.stringContaining(reason) } });
  });

  it.each([
    ["an IPv4 unit of a pool for both uses", { static_ipv4: "100.65.0.7" }, "ipv4", "v4b", 7n],
    ["an IPv4 unit of a static pool", { static_ipv4: "10.0.0.7" }, "ipv4", "v4s", 7n],
    ["a /56 unit of the default PD pool", { delegated_ipv6_prefix: "2001:db8:100:1200::/56", ipv6_assignment_mode: "pd" }, "ipv6_pd", "pd56", 18n],
    ["a /60 unit of a static PD pool", { delegated_ipv6_prefix: "2001:db8:b0b:100::/60", ipv6_assignment_mode: "pd" }, "ipv6_pd", "pds", 0n],
  ])("a static that is %s is bound there", (_what, fields, family, poolId, idx) => {
    const plan = planAllocation(created(network(fields)), initialState, [], pools);
    expect(plan.kind === "allocate" && plan.items.find((i) => i.family === family)).toMatchObject({ kind: "static", poolId, idx });
  });
});

describe("a static must lie in a pool of the tenant open to statics, outside its reserved ranges", () => {
  it.each([
    ["an IPv4 address in no pool (8.8.8.8)", { static_ipv4: "8.8.8.8" }, "static IPv4 8.8.8.8 lies in none of the tenant's IPv4 pools"],
    ["an IPv6 address in no pool", { static_ipv6: "2001:db8:dead::1", ipv6_assignment_mode: "slaac" }, "static IPv6 2001:db8:dead::1 lies in none of the tenant's IPv6 pools"],
    ["an IPv6 address inside a PD pool only (a pool of another kind)", { static_ipv6: "2001:db8:100::1", ipv6_assignment_mode: "slaac" }, "lies in none of the tenant's IPv6 pools"],
    ["a delegated prefix in no PD pool", { delegated_ipv6_prefix: "2001:db8:dead::/56", ipv6_assignment_mode: "pd" }, "static IPv6 PD 2001:db8:dead::/56 lies in none of the tenant's IPv6 PD pools"],
  ])("%s fails as static_ip_outside_pools", (_what, fields, reason) => {
    const plan = planAllocation(created(network(fields)), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "fail", failure: { code: "static_ip_outside_pools", reason: expect.stringContaining(reason) } });
  });

  it("a static without any pool of the tenant fails as static_ip_outside_pools, from the order as from the profile", () => {
    expect(planAllocation(skipped(network({ static_ipv4: "203.0.113.10" })), initialState, [], [])).toMatchObject({ kind: "fail", failure: { code: "static_ip_outside_pools" } });
  });

  it("a static in a pool's reserved range fails as static_ip_reserved, naming the range", () => {
    const plan = planAllocation(created(network({ static_ipv4: "100.64.0.5" })), initialState, [], pools);
    expect(plan).toEqual({ kind: "fail", failure: { code: "static_ip_reserved", reason: "static IPv4 100.64.0.5 is in the reserved range 100.64.0.2-100.64.0.15 of pool 'v4'" } });
  });

  it("a static in a pool kept for dynamic allocation fails as static_ip_in_dynamic_pool", () => {
    const plan = planAllocation(created(network({ static_ipv4: "100.66.0.10" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "fail", failure: { code: "static_ip_in_dynamic_pool", reason: expect.stringContaining("pool 'cgnat' (100.66.0.0/24)") } });
  });

  it("the first family that fails fails the whole plan: nothing is bound", () => {
    const plan = planAllocation(created(network({ static_ipv4: "10.0.0.5", static_ipv6: "2001:db8:dead::1", ipv6_assignment_mode: "slaac" })), initialState, [], pools);
    expect(plan).toMatchObject({ kind: "fail", failure: { code: "static_ip_outside_pools" } });
  });
});

describe("pool choice", () => {
  it("a pool named by the profile is used; a missing name fails as no_pool", () => {
    expect(choosePool("ipv4", network({ ipv4_pool: "business" }), pools)).toBe(v4Business);
    expect(choosePool("ipv4", network({ ipv4_pool: "nope" }), pools)).toEqual({ code: "no_pool", reason: "no IPv4 pool named 'nope' for this tenant" });
  });

  it("the PD size of the profile picks the pool delegating that size; none fits → no_pool", () => {
    expect(choosePool("ipv6_pd", network({ ipv6_pd_size: 60 }), pools)).toBe(pd60);
    expect(choosePool("ipv6_pd", network({ ipv6_pd_size: 48 }), pools)).toMatchObject({ code: "no_pool" });
    expect(choosePool("ipv6_pd", network({ ipv6_pd_pool: "pd56", ipv6_pd_size: 60 }), pools)).toMatchObject({ code: "no_pool", reason: expect.stringContaining("/56") });
  });

  it("a pool for statics only serves no dynamic need: not as the default, not by PD size, not by name", () => {
    const onlyStatic = [v4Static, v6Static, pdStatic];
    expect(choosePool("ipv4", network(), onlyStatic)).toEqual({ code: "no_pool", reason: "no default IPv4 pool for this tenant" });
    expect(choosePool("ipv6_pd", network({ ipv6_pd_size: 60 }), pools)).toBe(pd60);
    expect(choosePool("ipv6_pd", network({ ipv6_pd_size: 60 }), onlyStatic)).toMatchObject({ code: "no_pool" });
    expect(choosePool("ipv4", network({ ipv4_pool: "customer-ranges" }), pools)).toEqual({ code: "no_pool", reason: "IPv4 pool 'customer-ranges' is for static addresses only" });
    expect(choosePool("ipv4", network({ ipv4_pool: "cgnat" }), pools)).toBe(v4Dynamic);
  });

  it("a tenant without pools fails as no_pool", () => {
    expect(planAllocation(skipped(network()), initialState, [], [])).toEqual({ kind: "fail", failure: { code: "no_pool", reason: "no default IPv4 pool for this tenant" } });
  });
});

describe("idempotent decisions", () => {
  it("a subscriber that already holds addresses gets nothing new", () => {
    const held: Held[] = [{ family: "ipv4", address: "100.64.0.10", source: "dynamic" }];
    expect(planAllocation(skipped(network()), initialState, held, pools).kind).toBe("nothing");
  });

  it("a trigger that arrives after provisioning failed allocates nothing", () => {
    const state = given(msg("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step: "profile", reason: "deadline" }));
    expect(planAllocation(skipped(network()), state, [], pools)).toEqual({ kind: "nothing", why: "provisioning already failed" });
  });

  it("a late profile after the subscriber was terminated and its addresses released allocates nothing", () => {
    const state = given(msg("SubscriberTerminationRequested", { order_id: "order-2", reason: null }));
    expect(planAllocation(created(network()), state, [], pools)).toEqual({ kind: "nothing", why: "the subscriber is being terminated" });
  });
});

describe("compensation", () => {
  const trigger = skipped(network());
  const ips = allocated(ctx, trigger, [{ family: "ipv4", address: "100.64.0.10" }], "dynamic");
  const held: Held[] = [{ family: "ipv4", address: "100.64.0.10", source: "dynamic" }];
  const failed = msg("SubscriberProvisioningFailed", { code: null, order_id: "order-1", step: "radius", reason: "no plan" });

  it("after a failure ipam releases once every later step that succeeded has undone its own", () => {
    // given ipam and radius succeeded, then provisioning failed
    const state = given(ips, msg("RadiusAccountCreated", { username: "u", plan_group: "g" }), failed);
    expect(planRelease(state, held)).toBeNull(); // radius still holds the account
    // when radius undoes its work
    const after = evolve(state, msg("RadiusAccountDeleted", { username: "u", reason: "rollback" }));
    // then
    expect(planRelease(after, held)).toEqual({ reason: "rollback" });
  });

  it("once released, the rollback does not release again", () => {
    const state = given(ips, failed);
    expect(planRelease(state, held)).toEqual({ reason: "rollback" });
    const after = evolve(state, released(ctx, failed, held, "rollback"));
    expect(planRelease(after, [])).toBeNull();
  });

  it("nothing is released when ipam never succeeded", () => {
    expect(planRelease(given(failed), [])).toBeNull();
  });

  it("on termination ipam releases only after the RADIUS account is gone", () => {
    const state = given(subscriberCreated(network()), ips, msg("RadiusAccountCreated", { username: "u", plan_group: "g" }), msg("SubscriberTerminationRequested", { order_id: "order-2", reason: null }));
    expect(planRelease(state, held)).toBeNull();
    expect(planRelease(evolve(state, msg("RadiusAccountDeleted", { username: "u", reason: "terminated" })), held)).toEqual({ reason: "terminated" });
  });

  it("on termination ipam waits for the ONU to be deactivated after the RADIUS account", () => {
    // given a terminating FTTH subscriber whose RADIUS account is gone but whose ONU is still active
    const onu = msg("OnuActivated", { onu_id: "onu-1", onu_serial: "S1", olt_id: "olt-1", pon_port: "0/1", s_vlan: 100, c_vlan: null, bandwidth_mbps: 100 });
    const state = given(subscriberCreated(network()), ips, msg("RadiusAccountCreated", { username: "u", plan_group: "g" }), onu,
      msg("SubscriberTerminationRequested", { order_id: "order-2", reason: null }), msg("RadiusAccountDeleted", { username: "u", reason: "terminated" }));
    // then nothing is released yet
    expect(planRelease(state, held)).toBeNull();
    // when the ONU is deactivated, then the IPs go
    expect(planRelease(evolve(state, msg("OnuDeactivated", { onu_id: "onu-1", onu_serial: "S1", reason: "terminated" })), held)).toEqual({ reason: "terminated" });
  });

  it("IpReleased carries the released addresses and their source", () => {
    expect(released(ctx, failed, held, "rollback")).toEqual({
      type: "IpReleased",
      meta: { event_id: "evt-out", occurred_at: 1_700_000_000_000, tenant_id: "t1", subscriber_id: "sub-1", correlation_id: "order-1", causation_id: failed.meta.event_id, producer: "ipam" },
      data: { ips: { ipv4: "100.64.0.10", ipv6: null, ipv6_prefix: null, source: "dynamic" }, reason: "rollback" },
    });
  });
});
