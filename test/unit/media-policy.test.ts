import { describe, expect, it } from "vitest";
import { AddressPolicy, parseAllowEntry, refusedRange } from "../../core/media/policy.ts";

describe("the address policy: which addresses are fetched without an allowance", () => {
  const refused: [string, string][] = [
    ["127.0.0.1", "loopback"], ["127.1.2.3", "loopback"], ["10.0.0.1", "private"], ["172.16.5.4", "private"],
    ["172.31.255.255", "private"], ["192.168.1.1", "private"], ["100.64.0.1", "carrierGradeNat"], ["100.127.255.254", "carrierGradeNat"],
    ["169.254.169.254", "linkLocal"], ["0.0.0.0", "unspecified"], ["0.1.2.3", "unspecified"], ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"], ["192.0.2.10", "reserved"], ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"], ["198.18.0.1", "reserved"], ["240.0.0.1", "reserved"], ["192.0.0.8", "reserved"],
    ["::1", "loopback"], ["::", "unspecified"], ["fe80::1", "linkLocal"], ["febf::1", "linkLocal"], ["fc00::1", "uniqueLocal"],
    ["fd12:3456::1", "uniqueLocal"], ["ff02::1", "multicast"], ["2001:db8::1", "reserved"], ["3fff::1", "reserved"],
    ["::ffff:127.0.0.1", "ipv4Mapped of loopback"], ["::ffff:7f00:1", "ipv4Mapped of loopback"], ["::ffff:10.1.1.1", "ipv4Mapped of private"],
    ["::ffff:169.254.169.254", "ipv4Mapped of linkLocal"], ["::ffff:0:127.0.0.1", "rfc6145 of loopback"],
    ["::127.0.0.1", "reserved"], ["::7f00:1", "reserved"], ["::10.0.0.1", "reserved"],
    ["64:ff9b::127.0.0.1", "rfc6052 of loopback"], ["64:ff9b::a9fe:a9fe", "rfc6052 of linkLocal"], ["64:ff9b:1::1.2.3.4", "rfc6052 of unspecified"],
    ["2002:7f00:1::1", "6to4 of loopback"], ["2002:c0a8:101::1", "6to4 of private"], ["2001:0:4136:e378::1", "teredo"],
    ["2001:2::1", "benchmarking"], ["fec0::1", "deprecatedSiteLocal"], ["100::1", "discard"], ["1234::1", "reserved"],
    ["not an address", "not an IP address"],
  ];
  it.each(refused)("%s is refused (%s)", (ip, why) => {
    expect(refusedRange(ip)).toBe(why);
  });

  const fetched = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
    "169.253.1.1", "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:1.1.1.1", "64:ff9b::8.8.8.8", "2002:808:808::1"];
  it.each(fetched)("%s is fetched", (ip) => {
    expect(refusedRange(ip)).toBeUndefined();
  });
});

describe("media.allowHosts", () => {
  const policy = new AddressPolicy(["media.internal", "*.corp.example", "files.lan:8080", "10.1.0.0/16", "127.0.0.1:8008", "[::1]:9000", "fd00::/8"]);
  const at = (host: string, port: number, address: string) => policy.check({ host, port, address });

  it("a name allows whatever it resolves to, on any port unless one is given", () => {
    expect(at("media.internal", 80, "192.168.1.5")).toBeUndefined();
    expect(at("MEDIA.internal.", 443, "127.0.0.1")).toBeUndefined();
    expect(at("a.b.corp.example", 80, "10.9.9.9")).toBeUndefined();
    expect(at("corp.example.evil", 80, "10.9.9.9")).toMatch(/private/);
    expect(at("files.lan", 8080, "192.168.0.2")).toBeUndefined();
    expect(at("files.lan", 8081, "192.168.0.2")).toMatch(/192\.168\.0\.2 \(files\.lan\) is a private address/);
  });

  it("an address or CIDR allows that address whatever the name, also in its IPv4-mapped form", () => {
    expect(at("anything", 80, "10.1.200.3")).toBeUndefined();
    expect(at("anything", 80, "::ffff:10.1.200.3")).toBeUndefined();
    expect(at("anything", 80, "10.2.0.1")).toMatch(/private/);
    expect(at("127.0.0.1", 8008, "127.0.0.1")).toBeUndefined();
    expect(at("127.0.0.1", 8009, "127.0.0.1")).toMatch(/loopback/);
    expect(at("localhost", 9000, "::1")).toBeUndefined();
    expect(at("x", 1, "fd12::1")).toBeUndefined();
  });

  it("public addresses need no allowance", () => {
    expect(new AddressPolicy([]).check({ host: "example.org", port: 443, address: "93.184.216.34" })).toBeUndefined();
  });

  it.each(["", "http://x", "a b", "10.0.0.0/33", "host:0", "host:99999", "[::1", "-bad-.org"])("%j is not an entry", (raw) => {
    expect(parseAllowEntry(raw)).toHaveProperty("error");
  });
});
