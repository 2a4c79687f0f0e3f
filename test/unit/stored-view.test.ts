// The view as services store it (shared/subscriber-view.ts storedView): about half the size, and
// read back, through JSON as jsonb does, exactly the view that was written.
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { evolveView, storedView, viewFromStored, type SubscriberView } from "../../shared/subscriber-view.js";
import { network, subscriberCreated } from "../support/story.js";

let n = 0;
const ev = <K extends EventName>(type: K, data: EventData<K>): Message =>
  ({ type, meta: { event_id: `s${++n}`, occurred_at: n, tenant_id: "tenant-a", subscriber_id: "sub-1", correlation_id: "o", causation_id: null, producer: "test" }, data }) as unknown as Message;

const fold = (...events: Message[]): SubscriberView => {
  const v = events.reduce<SubscriberView | null>((acc, m) => evolveView(acc, m), null);
  if (!v) throw new Error("no view");
  return v;
};
const throughJson = (v: SubscriberView) => viewFromStored(JSON.parse(JSON.stringify(storedView(v))) as ReturnType<typeof storedView>);

describe("stored view", () => {
  const created = subscriberCreated();
  const profile = network({ service_vlan: 300, inner_vlan: 3001, qinq_enabled: true, static_ipv4: "100.64.9.9", circuit_id: "olt-1 0/1/1" });
  const views = {
    "just created": fold(created),
    "profile differs from the order": fold(created, ev("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: profile, metadata: {} } })),
    "provisioned with IPs written back": fold(
      created,
      ev("NetworkProfileCreated", { profile: { network_profile_id: "np-1", config: network(), metadata: {} } }),
      ev("IpAllocated", { ips: { ipv4: "100.64.0.5", ipv6: "2001:db8::5", ipv6_prefix: "2001:db8:100::/56", source: "dynamic" } }),
      ev("NetworkProfileUpdated", {
        profile: { network_profile_id: "np-1", config: network({ static_ipv4: "100.64.0.5", static_ipv6: "2001:db8::5", delegated_ipv6_prefix: "2001:db8:100::/56" }), metadata: {} },
        change: "ip_writeback",
      }),
      ev("SubscriberProvisioned", { order_id: "o" }),
    ),
  };

  for (const [name, view] of Object.entries(views)) {
    it(`reads back the view it stored: ${name}`, () => {
      expect(throughJson(view)).toEqual(view);
    });
  }

  it("stores the order's network as what differs from the effective one, and no unset setting", () => {
    const stored = storedView(views["profile differs from the order"]);
    expect(Object.values(stored.network)).not.toContain(null);
    expect(Object.keys(stored.order_network_changes).sort()).toEqual(
      (Object.keys(profile) as Array<keyof typeof profile>).filter((k) => profile[k] !== views["just created"].network[k]).sort(),
    );
    expect(JSON.stringify(stored).length).toBeLessThan(0.7 * JSON.stringify(views["profile differs from the order"]).length);
  });

  it("reads a view stored whole, before this form, as it is", () => {
    const whole = views["provisioned with IPs written back"];
    expect(viewFromStored(JSON.parse(JSON.stringify(whole)) as SubscriberView)).toEqual(whole);
  });
});
