// Addresses and prefixes as the checker compares them, pure: one canonical text per value
// (dotted IPv4, RFC 5952 IPv6, `prefix/len`), whoever wrote it (IPAM, FreeRADIUS rows, the
// profile), and the range of addresses each one covers, for the overlap check.
import ipaddr from "ipaddr.js";

export type Family = "ipv4" | "ipv6" | "ipv6_pd";
export const families: readonly Family[] = ["ipv4", "ipv6", "ipv6_pd"];

export const familyLabel: Record<Family, string> = { ipv4: "IPv4", ipv6: "IPv6", ipv6_pd: "delegated prefix" };

/** The RADIUS reply attribute that carries each family. */
export const radiusAttribute: Record<Family, string> = {
  ipv4: "Framed-IP-Address",
  ipv6: "Framed-IPv6-Address",
  ipv6_pd: "Delegated-IPv6-Prefix",
};

/** An inclusive range of addresses in one IP version's space. */
export interface Range {
  readonly version: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

const toBigInt = (bytes: readonly number[]): bigint => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);

/**
 * The canonical text of an address or prefix of `family`; the text itself when it is none (a
 * value that cannot be parsed still compares, as text). An IPv6 address may come with /128.
 */
export function canonical(family: Family, text: string): string {
  return parse(family, text)?.text ?? text;
}

/** The range a value covers: an address is a range of one. Null when the text is no such value. */
export function rangeOf(family: Family, text: string): Range | null {
  return parse(family, text)?.range ?? null;
}

function parse(family: Family, raw: string): { text: string; range: Range } | null {
  const text = raw.trim();
  try {
    if (family === "ipv4") {
      if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
      const a = ipaddr.IPv4.parse(text);
      const v = toBigInt(a.toByteArray());
      return { text: a.toString(), range: { version: 4, first: v, last: v } };
    }
    if (family === "ipv6") {
      const [address, length] = text.split("/");
      if (address === undefined || (length !== undefined && length !== "128") || !ipaddr.IPv6.isValid(address)) return null;
      const a = ipaddr.IPv6.parse(address);
      const v = toBigInt(a.toByteArray());
      return { text: a.toRFC5952String(), range: { version: 6, first: v, last: v } };
    }
    const [net, length] = ipaddr.IPv6.parseCIDR(text);
    const hostBits = BigInt(128 - length);
    const value = toBigInt(net.toByteArray());
    // The range the prefix covers, whatever host bits the text carries.
    const first = (value >> hostBits) << hostBits;
    return { text: `${net.toRFC5952String()}/${length}`, range: { version: 6, first, last: first + (1n << hostBits) - 1n } };
  } catch {
    return null;
  }
}

export const overlap = (a: Range, b: Range): boolean => a.version === b.version && a.first <= b.last && b.first <= a.last;
