/**
 * Which addresses Junction may fetch a user-supplied URL from. Public unicast addresses only,
 * unless the operator allows a host (`media.allowHosts`) or an adapter names its own server (the
 * homeserver, the upload service). Address classes come from ipaddr.js (IANA special-purpose
 * registries); what it calls "unicast" is the only class fetched without an allowance.
 */
import ipaddr from "ipaddr.js";
import type { MediaScope } from "../adapter.ts";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * One allowance, as written in config: a host name (`media.example.org`, `*.example.org`), a host
 * name on one port (`example.org:8448`), an address or a CIDR (`10.1.2.3`, `10.0.0.0/8`,
 * `fd00::/8`), or an address on one port (`127.0.0.1:8008`, `[::1]:8008`).
 */
export type AllowEntry =
  | { readonly kind: "name"; readonly name: string; readonly wildcard: boolean; readonly port?: number }
  | { readonly kind: "address"; readonly range: [Address, number]; readonly port?: number };

/** Parses an allowHosts entry; returns an error text for a person to read when it is not one. */
export function parseAllowEntry(raw: string): AllowEntry | { error: string } {
  const s = raw.trim().toLowerCase();
  const bad = { error: `expected a host name, host:port, IP address, [IPv6]:port or CIDR, got "${raw}"` };
  if (!s) return bad;
  if (s.includes("/")) {
    if (!ipaddr.isValidCIDR(s)) return bad;
    const [addr, bits] = ipaddr.parseCIDR(s);
    return { kind: "address", range: [addr, bits] };
  }
  const v6port = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(s);
  if (v6port) return address(v6port[1]!, v6port[2]) ?? bad;
  if (ipaddr.IPv6.isValid(s)) return address(s, undefined) ?? bad;
  const hostPort = /^([^:]+?)(?::(\d+))?$/.exec(s);
  if (!hostPort) return bad;
  const [, host, portText] = hostPort as unknown as [string, string, string | undefined];
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return address(host, portText) ?? bad;
  const port = portOf(portText);
  if (port === null) return bad;
  const wildcard = host.startsWith("*.");
  const name = stripDot(wildcard ? host.slice(2) : host);
  if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name)) return bad;
  return { kind: "name", name, wildcard, ...(port !== undefined ? { port } : {}) };
}

function address(text: string, portText: string | undefined): AllowEntry | undefined {
  const addr = parseAddress(text);
  const port = portOf(portText);
  if (!addr || port === null) return undefined;
  return { kind: "address", range: [addr, addr.kind() === "ipv4" ? 32 : 128], ...(port !== undefined ? { port } : {}) };
}

function portOf(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
}

const stripDot = (h: string) => h.replace(/\.$/, "");

/**
 * Why an address is not fetched without an allowance (the name of its special range), or
 * undefined for a public unicast address. IPv6 forms that carry an IPv4 address (mapped,
 * translated, NAT64 64:ff9b::/96, 6to4) are judged by the IPv4 address inside.
 */
export function refusedRange(ip: string): string | undefined {
  const addr = parseAddress(ip);
  if (!addr) return "not an IP address";
  if (addr.kind() === "ipv4") {
    const range = (addr as ipaddr.IPv4).range();
    return range === "unicast" ? undefined : range;
  }
  const v6 = addr as ipaddr.IPv6;
  const range = v6.range();
  const inner = embeddedIpv4(v6, range);
  if (inner) {
    const why = refusedRange(inner.toString());
    return why === undefined ? undefined : `${range} of ${why}`;
  }
  if (range !== "unicast") return range;
  // Only 2000::/3 is global unicast; the rest (including IPv4-compatible ::a.b.c.d) is not routed.
  return (v6.parts[0]! & 0xe000) === 0x2000 ? undefined : "reserved";
}

/**
 * An address as the socket layer reads it. IPv6 text goes through the URL parser first, which
 * writes a dotted tail in hex: ipaddr.js would read "::127.0.0.1" (IPv4-compatible, ::7f00:1) as
 * the mapped ::ffff:127.0.0.1.
 */
function parseAddress(ip: string): Address | undefined {
  let text = ip;
  if (ip.includes(":")) {
    try {
      text = unbracket(new URL(`http://[${unbracket(ip)}]/`).hostname);
    } catch {
      return undefined;
    }
  } else if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) {
    return undefined;
  }
  return ipaddr.isValid(text) ? ipaddr.parse(text) : undefined;
}

function embeddedIpv4(v6: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  const p = v6.parts;
  const last32 = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  switch (range) {
    case "ipv4Mapped": // ::ffff:a.b.c.d
    case "rfc6145": // ::ffff:0:a.b.c.d
      return last32();
    case "rfc6052": // 64:ff9b::a.b.c.d (well-known NAT64); the local-use 64:ff9b:1::/48 is refused
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? last32() : new ipaddr.IPv4([0, 0, 0, 0]);
    case "6to4": // 2002:aabb:ccdd::/48
      return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
    default:
      return undefined;
  }
}

/** A connection as the policy sees it: the name in the URL, its port, and the address reached. */
export interface Destination {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

export class AddressPolicy {
  readonly #fixed: readonly AllowEntry[];
  readonly #learned: (() => readonly string[]) | undefined;
  #learnedKey = "";
  #learnedEntries: readonly AllowEntry[] = [];

  /**
   * Throws on an entry that does not parse (config/schema.ts checks them first). `learned`: hosts
   * the adapters come to know while running (an upload service found by service discovery), read
   * on each check; one that does not parse is left out.
   */
  constructor(allow: readonly string[], learned?: () => readonly string[]) {
    this.#fixed = allow.map((raw) => {
      const e = parseAllowEntry(raw);
      if ("error" in e) throw new Error(e.error);
      return e;
    });
    this.#learned = learned;
  }

  get #entries(): readonly AllowEntry[] {
    if (!this.#learned) return this.#fixed;
    const hosts = this.#learned();
    const key = hosts.join(" ");
    if (key !== this.#learnedKey) {
      this.#learnedKey = key;
      this.#learnedEntries = hosts.flatMap((raw) => {
        const e = parseAllowEntry(raw);
        return "error" in e ? [] : [e];
      });
    }
    return this.#learnedEntries.length === 0 ? this.#fixed : [...this.#fixed, ...this.#learnedEntries];
  }

  /** Undefined when the connection may be made, else why not (for logs, never for the room). */
  check(d: Destination): string | undefined {
    const why = refusedRange(d.address);
    if (why === undefined || this.allows(d)) return undefined;
    return `${d.address} (${d.host}) is ${why === "not an IP address" ? why : `a ${why} address`}, and media.allowHosts does not allow it`;
  }

  /** Whether an allowance covers it; `anyPort` while the port is not known yet (DNS answers). */
  allows(d: Destination, anyPort = false): boolean {
    const host = stripDot(unbracket(d.host).toLowerCase());
    const parsed = parseAddress(d.address);
    const addr = parsed?.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
    return this.#entries.some((e) => {
      if (!anyPort && e.port !== undefined && e.port !== d.port) return false;
      if (e.kind === "name") return host === e.name || (e.wildcard && host.endsWith(`.${e.name}`));
      if (!addr) return false;
      const [net, bits] = e.range;
      const candidate = net.kind() === addr.kind() ? addr : net.kind() === "ipv6" ? (addr as ipaddr.IPv4).toIPv4MappedAddress() : undefined;
      return candidate !== undefined && candidate.match([net, bits] as never);
    });
  }

}

/**
 * Whether `url` is under one of `scopes` (an adapter's file service: host:port and a path
 * prefix). The URL parser has already resolved dot segments (`/file_share/../metrics` is
 * `/metrics`, `%2e%2e` too); an encoded slash or backslash, which a server might decode into a
 * path of its own, is never in scope.
 */
export function inScope(scopes: readonly MediaScope[], url: URL): boolean {
  if (scopes.length === 0 || /%2f|%5c/i.test(url.pathname)) return false;
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const host = stripDot(unbracket(url.hostname));
  return scopes.some((s) => {
    const e = parseAllowEntry(s.host);
    if ("error" in e || e.port !== port || !url.pathname.startsWith(s.path)) return false;
    if (e.kind === "name") return !e.wildcard && host === e.name;
    const addr = parseAddress(host);
    return addr !== undefined && addr.kind() === e.range[0].kind() && addr.match(e.range as never);
  });
}

export const unbracket = (h: string) => h.replace(/^\[(.*)\]$/, "$1");
