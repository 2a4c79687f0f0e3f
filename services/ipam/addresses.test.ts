import { describe, expect, it } from "vitest";
import { addressToIndex, capacity, geometry, indexToAddress, mergeRanges, overlaps, reservedRange, skipExcluded } from "./domain/addresses.js";

describe("index and address arithmetic", () => {
  it("an IPv4 pool leaves out the network and broadcast addresses and maps indexes both ways", () => {
    // given a /22
    const g = geometry("ipv4", "100.64.0.0/22");
    // then
    expect([g.first, g.end, g.size]).toEqual([1n, 1023n, 1024n]);
    expect(indexToAddress(g, 1n)).toBe("100.64.0.1");
    expect(indexToAddress(g, 1022n)).toBe("100.64.3.254");
    expect(addressToIndex(g, "100.64.3.254")).toBe(1022n);
    expect(addressToIndex(g, "100.64.4.0")).toBeNull();
  });

  it("an IPv6 address pool works beyond 64 bits and prints RFC 5952 text", () => {
    const g = geometry("ipv6", "2001:db8:ffff::/64");
    expect(g.size).toBe(1n << 64n);
    expect(indexToAddress(g, (1n << 64n) - 1n)).toBe("2001:db8:ffff:0:ffff:ffff:ffff:ffff");
    expect(indexToAddress(g, 0x1_0000_0000n)).toBe("2001:db8:ffff::1:0:0");
    expect(addressToIndex(g, "2001:DB8:FFFF:0::1:0:0")).toBe(0x1_0000_0000n);
    expect(g.first).toBe(1n); // the subnet-router anycast address is never handed out
  });

  it("a PD pool steps by 2^(128 - delegated length) and yields prefixes", () => {
    const g = geometry("ipv6_pd", "2001:db8:100::/40", 56);
    expect(g.size).toBe(65536n);
    expect(g.step).toBe(1n << 72n);
    expect(indexToAddress(g, 0n)).toBe("2001:db8:100::/56");
    expect(indexToAddress(g, 1n)).toBe("2001:db8:100:100::/56");
    expect(indexToAddress(g, 65535n)).toBe("2001:db8:1ff:ff00::/56");
    expect(addressToIndex(g, "2001:db8:100:100::/56")).toBe(1n);
    expect(addressToIndex(g, "2001:db8:100:100::/60")).toBeNull(); // another size is not a unit of this pool
    expect(() => geometry("ipv6_pd", "2001:db8:100::/40", 40)).toThrow(/longer than/);
  });

  it("a CIDR with host bits set or an address of the other family is refused", () => {
    expect(() => geometry("ipv4", "100.64.0.1/22")).toThrow(/host bits/);
    expect(() => geometry("ipv6", "10.0.0.0/8")).toThrow(/not an IPv6 address/);
  });
});

describe("the cursor jumps over the gateway and reserved ranges", () => {
  const g = geometry("ipv4", "100.64.0.0/24");
  const excluded = mergeRanges([reservedRange(g, "100.64.0.2-100.64.0.9"), reservedRange(g, "100.64.0.1"), reservedRange(g, "100.64.0.20-100.64.0.29")]);

  it("adjacent ranges merge, so one jump clears them", () => {
    expect(excluded).toEqual([
      { first: 1n, last: 9n },
      { first: 20n, last: 29n },
    ]);
    expect(skipExcluded(1n, excluded)).toBe(10n);
  });

  it("a cursor outside every range stays, one inside a range lands right after it", () => {
    expect(skipExcluded(12n, excluded)).toBe(12n);
    expect(skipExcluded(25n, excluded)).toBe(30n);
  });

  it("capacity counts usable units minus excluded ones", () => {
    expect(capacity(g, excluded)).toBe(254n - 9n - 10n);
  });

  it("a reserved range outside the pool is refused", () => {
    expect(() => reservedRange(g, "100.64.1.1-100.64.1.5")).toThrow(/not inside/);
  });
});

describe("pools of one tenant may not overlap", () => {
  it("a /40 and a /44 inside it overlap; two disjoint /24 do not", () => {
    expect(overlaps("ipv6", "2001:db8:100::/40", "2001:db8:100::/44")).toBe(true);
    expect(overlaps("ipv4", "10.0.0.0/24", "10.0.1.0/24")).toBe(false);
  });
});
