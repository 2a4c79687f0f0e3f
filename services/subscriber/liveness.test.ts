// The profile deadline skips only while the profile service is silent: given what this process
// consumed, how long since the profile service last answered anyone?
import { describe, expect, it } from "vitest";
import type { EventData, EventName, Message } from "../../schemas/generated/events.js";
import { ProfileLiveness } from "./liveness.js";

const ev = <K extends EventName>(type: K, data: EventData<K>, producer: string): Message =>
  ({ type, meta: { event_id: "e", occurred_at: 0, tenant_id: "t", subscriber_id: "s", correlation_id: "o", causation_id: null, producer }, data }) as unknown as Message;

describe("the profile service's liveness", () => {
  it("given no answer since the start, then silent since the start", () => {
    expect(new ProfileLiveness(1_000).silentFor(11_000)).toBe(10_000);
  });

  it("given any answer of the profile step from the profile service, then silent from that answer; other events and our own skip do not count", () => {
    const l = new ProfileLiveness(0);
    l.saw(ev("IpAllocated", { ips: { ipv4: "100.64.0.1", ipv6: null, ipv6_prefix: null, source: "dynamic" } }, "ipam"), 5_000);
    l.saw(ev("NetworkProfileSkipped", { reason: "timeout", network: {} as never, code: "timeout" }, "subscriber"), 6_000);
    expect(l.silentFor(10_000)).toBe(10_000);
    l.saw(ev("NetworkProfileCreationFailed", { code: "vlan_in_use", reason: "taken" }, "profile"), 7_000);
    expect(l.silentFor(10_000)).toBe(3_000);
  });
});
