import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { AddressPolicy } from "../../core/media/policy.ts";

const log = pino({ level: "silent" });
const matrix = (homeserver: string) => new MatrixAdapter({
  homeserver, domain: "example.org", listen: { host: "127.0.0.1", port: 9000 }, registration: "/nonexistent.yaml", ghostPrefix: "_junction_",
}, log);
const xmpp = (upload?: string) => new XmppAdapter({
  server: "xmpp://127.0.0.1:5347", component: "bridge.example.org", secret: "s", nick: "Junction", history: 0, ...(upload ? { upload } : {}),
}, log);

describe("the servers adapters name as their own are allowed, and nothing more", () => {
  it("the homeserver: its host and port", () => {
    expect(matrix("http://127.0.0.1:8008").mediaHosts).toEqual(["127.0.0.1:8008"]);
    expect(matrix("https://matrix.example.org").mediaHosts).toEqual(["matrix.example.org:443"]);
    expect(matrix("http://[::1]:8008").mediaHosts).toEqual(["[::1]:8008"]);
    const policy = new AddressPolicy(matrix("http://127.0.0.1:8008").mediaHosts);
    expect(policy.check({ host: "127.0.0.1", port: 8008, address: "127.0.0.1" })).toBeUndefined();
    expect(policy.check({ host: "127.0.0.1", port: 8009, address: "127.0.0.1" })).toMatch(/loopback/);
  });

  it("the upload service: no host at all until a slot says where it keeps files (then only that path: media-scopes.test.ts)", () => {
    const adapter = xmpp("upload.localhost") as XmppAdapter & { mediaHosts?: readonly string[] };
    expect(adapter.mediaHosts).toBeUndefined();
    expect(adapter.mediaScopes).toEqual([]);
  });
});
