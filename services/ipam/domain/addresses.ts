// Address arithmetic of a pool, pure and in BigInt (IPv6 needs 128 bits). A pool is a CIDR cut
// into equal units: single addresses (IPv4, IPv6) or delegated prefixes (IPv6 PD, one unit per
// /56 or /60 ...). Unit `i` starts at base + i * 2^(bits - unitLength), so turning an index into
// an address (and back) costs the same whatever the index: the allocator keeps only a cursor and
// a free list of indexes, never a list of addresses to scan.
import ipaddr from "ipaddr.js";

export const families = ["ipv4", "ipv6", "ipv6_pd"] as const;
export type Family = (typeof families)[number];

export interface Geometry {
  readonly family: Family;
  readonly bits: 32 | 128;
  /** First address of the CIDR, as a number. */
  readonly base: bigint;
  readonly prefixLength: number;
  /** Length of one unit: 32 / 128 for addresses, the delegated length for PD. */
  readonly unitLength: number;
  /** Addresses per unit. */
  readonly step: bigint;
  /** Units in the CIDR. */
  readonly size: bigint;
  /** Usable indexes are first <= i < end (network/broadcast and the IPv6 anycast address left out). */
  readonly first: bigint;
  readonly end: bigint;
}

/** An inclusive range of unit indexes that is never handed out (gateway, reserved). */
export interface IndexRange {
  readonly first: bigint;
  readonly last: bigint;
}

export class AddressError extends Error {
  override readonly name = "AddressError";
}

const toBigInt = (bytes: readonly number[]): bigint => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);

function toBytes(value: bigint, bits: 32 | 128): number[] {
  const bytes: number[] = [];
  for (let i = bits / 8 - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return bytes;
}

const kindOf = (family: Family): "ipv4" | "ipv6" => (family === "ipv4" ? "ipv4" : "ipv6");
const bitsOf = (family: Family): 32 | 128 => (family === "ipv4" ? 32 : 128);

/** Parses one address of the family's IP version; canonical text (RFC 5952 for IPv6) and value. */
export function parseAddress(family: "ipv4" | "ipv6", text: string): { text: string; value: bigint } {
  const valid = family === "ipv4" ? ipaddr.IPv4.isValidFourPartDecimal(text) : ipaddr.IPv6.isValid(text) && !text.includes("%");
  if (!valid) throw new AddressError(`'${text}' is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address`);
  const addr = ipaddr.parse(text);
  return { text: addr.toString(), value: toBigInt(addr.toByteArray()) };
}

/** Parses a CIDR of the family's IP version whose host bits are zero. */
export function parseCidr(family: "ipv4" | "ipv6", text: string): { text: string; value: bigint; length: number } {
  const [addrText, lenText, ...rest] = text.split("/");
  if (addrText === undefined || lenText === undefined || rest.length > 0 || !/^\d{1,3}$/.test(lenText)) {
    throw new AddressError(`'${text}' is not a CIDR (address/length)`);
  }
  const length = Number(lenText);
  const bits = family === "ipv4" ? 32 : 128;
  if (length > bits) throw new AddressError(`'${text}': prefix length ${length} is longer than ${bits}`);
  const { text: canonical, value } = parseAddress(family, addrText);
  const hostMask = (1n << BigInt(bits - length)) - 1n;
  if ((value & hostMask) !== 0n) throw new AddressError(`'${text}' has host bits set (not a network address)`);
  return { text: `${canonical}/${length}`, value, length };
}

export function formatValue(family: "ipv4" | "ipv6", value: bigint): string {
  return ipaddr.fromByteArray(toBytes(value, family === "ipv4" ? 32 : 128)).toString();
}

/** The geometry of a pool; throws AddressError for a CIDR or delegated length that makes no pool. */
export function geometry(family: Family, cidr: string, delegatedLength: number | null = null): Geometry {
  const bits = bitsOf(family);
  const net = parseCidr(kindOf(family), cidr);
  let unitLength: number = bits;
  if (family === "ipv6_pd") {
    if (delegatedLength === null || !Number.isInteger(delegatedLength)) throw new AddressError("an ipv6_pd pool needs a delegated length");
    if (delegatedLength <= net.length || delegatedLength > 64) {
      throw new AddressError(`delegated length /${delegatedLength} must be longer than the pool's /${net.length} and at most /64`);
    }
    unitLength = delegatedLength;
  }
  const size = 1n << BigInt(unitLength - net.length);
  // IPv4: no network / broadcast address (except /31, /32); IPv6 addresses: no subnet-router anycast (index 0).
  const first = (family === "ipv4" && net.length <= 30) || family === "ipv6" ? 1n : 0n;
  const end = family === "ipv4" && net.length <= 30 ? size - 1n : size;
  if (end <= first) throw new AddressError(`${net.text} holds no usable ${family} unit`);
  return { family, bits, base: net.value, prefixLength: net.length, unitLength, step: 1n << BigInt(bits - unitLength), size, first, end };
}

/** Unit `index` as text: an address, or `prefix/len` for PD. O(1). */
export function indexToAddress(g: Geometry, index: bigint): string {
  if (index < 0n || index >= g.size) throw new AddressError(`index ${index} is outside the pool (size ${g.size})`);
  const text = formatValue(kindOf(g.family), g.base + index * g.step);
  return g.family === "ipv6_pd" ? `${text}/${g.unitLength}` : text;
}

/** The index of an address (or PD prefix) in the pool; null when outside it or not a unit boundary. */
export function addressToIndex(g: Geometry, text: string): bigint | null {
  let value: bigint;
  if (g.family === "ipv6_pd") {
    const p = parseCidr("ipv6", text);
    if (p.length !== g.unitLength) return null;
    value = p.value;
  } else {
    value = parseAddress(kindOf(g.family), text).value;
  }
  const offset = value - g.base;
  if (offset < 0n || offset % g.step !== 0n) return null;
  const index = offset / g.step;
  return index < g.size ? index : null;
}

/** Canonical text of a static address or PD prefix of a family (throws AddressError if it is not one). */
export function canonicalStatic(family: Family, text: string): string {
  return family === "ipv6_pd" ? parseCidr("ipv6", text).text : parseAddress(family, text).text;
}

/** Sorts and merges ranges, so a cursor can jump over them in one pass. */
export function mergeRanges(ranges: readonly IndexRange[]): IndexRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: IndexRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1n) out[out.length - 1] = { first: last.first, last: r.last > last.last ? r.last : last.last };
    else out.push(r);
  }
  return out;
}

/** The first index >= cursor outside every excluded range: jumps over ranges, never iterates inside one. */
export function skipExcluded(cursor: bigint, merged: readonly IndexRange[]): bigint {
  let c = cursor;
  for (const r of merged) {
    if (c < r.first) break;
    if (c <= r.last) c = r.last + 1n;
  }
  return c;
}

/** A reserved range "a-b" (or one address "a") of a pool as indexes; throws AddressError if outside. */
export function reservedRange(g: Geometry, text: string): IndexRange {
  const [fromText, toText = fromText, ...rest] = text.split("-").map((s) => s.trim());
  if (fromText === undefined || toText === undefined || rest.length > 0) throw new AddressError(`'${text}' is not a range (first-last)`);
  const first = addressToIndex(g, fromText);
  const last = addressToIndex(g, toText);
  if (first === null || last === null) throw new AddressError(`reserved range '${text}' is not inside the pool`);
  if (last < first) throw new AddressError(`reserved range '${text}' ends before it starts`);
  return { first, last };
}

/** Units the pool can hand out: usable range minus excluded ranges. */
export function capacity(g: Geometry, excluded: readonly IndexRange[]): bigint {
  let n = g.end - g.first;
  for (const r of mergeRanges(excluded)) {
    const from = r.first > g.first ? r.first : g.first;
    const to = r.last < g.end - 1n ? r.last : g.end - 1n;
    if (to >= from) n -= to - from + 1n;
  }
  return n;
}

/** True when two CIDRs of one IP version share an address (one contains the other's first address). */
export function overlaps(version: "ipv4" | "ipv6", a: string, b: string): boolean {
  const x = parseCidr(version, a);
  const y = parseCidr(version, b);
  const bits = version === "ipv4" ? 32 : 128;
  const shorter = Math.min(x.length, y.length);
  const mask = ((1n << BigInt(shorter)) - 1n) << BigInt(bits - shorter);
  return (x.value & mask) === (y.value & mask);
}
