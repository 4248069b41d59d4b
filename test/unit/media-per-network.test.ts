/**
 * Each network's media client is allowed only that network's own servers (besides config's):
 * the Matrix homeserver on a private address is the Matrix adapter's to fetch from, never a
 * target for a link an XMPP person sends (an OOB URL pointing at it).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { FakeAdapter } from "../support/fake-adapter.ts";

class WithHosts extends FakeAdapter {
  hosts: string[] = [];
  get mediaHosts(): readonly string[] { return this.hosts; }
}

let server: Server;
let port: number;
let app: RunningJunction;
const xmpp = new WithHosts("xmpp");
const matrix = new WithHosts("matrix");

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("private"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  matrix.hosts = [`127.0.0.1:${port}`];
  app = await runJunction({ store: { path: ":memory:" }, links: { l: { xmpp: ["a@muc"], matrix: ["!m:hs"] } } }, [xmpp, matrix], pino({ level: "silent" }));
});
afterAll(async () => {
  await app.stop();
  await new Promise((r) => server.close(r));
});

describe("media clients per network", () => {
  it("the Matrix client reaches its homeserver's private address; the XMPP client does not", async () => {
    const url = `http://127.0.0.1:${port}/_synapse/anything`;
    expect(Buffer.from((await matrix.host.media.get(url)).data).toString()).toBe("private");
    await expect(xmpp.host.media.get(url)).rejects.toThrow();
  });
});
