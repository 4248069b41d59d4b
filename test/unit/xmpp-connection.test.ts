/**
 * The component connection against a stand-in XEP-0114 server on loopback: IQ answers count only
 * from the entity asked, under ids nobody can predict; a stream that stops answering is replaced.
 */
import { createServer, type Server, type Socket } from "node:net";
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { XmppConnection } from "../../bridges/xmpp/connection.ts";
import { until } from "../harness/until.ts";

const DOMAIN = "bridge.localhost";
const log = pino({ level: "silent" });

interface StandIn {
  readonly port: number;
  readonly sockets: Socket[];
  /** Each iq the component sent, with the socket it came on. */
  readonly iqs: { id: string; to: string; xml: string; socket: Socket }[];
  /** When false, iqs to our own domain (the keepalive) are not echoed back. */
  echo: boolean;
  close(): Promise<void>;
}

async function standIn(): Promise<StandIn> {
  const sockets: Socket[] = [];
  const iqs: StandIn["iqs"] = [];
  const state = { echo: true };
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    let buf = "";
    socket.on("error", () => undefined);
    socket.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("<stream:stream") && !buf.includes("<!--opened-->")) {
        buf += "<!--opened-->";
        socket.write(`<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' from='${DOMAIN}' id='s1'>`);
      }
      if (buf.includes("</handshake>") && !buf.includes("<!--shook-->")) {
        buf += "<!--shook-->";
        socket.write("<handshake/>");
      }
      if (buf.includes("</stream:stream>")) { socket.end("</stream:stream>"); return; }
      for (const m of buf.matchAll(/<iq [^>]*?id=["']([^"']+)["'][^>]*>/g)) {
        const id = m[1]!;
        if (iqs.some((q) => q.id === id)) continue;
        const to = /to=["']([^"']+)["']/.exec(m[0])?.[1] ?? "";
        iqs.push({ id, to, xml: m[0], socket });
        // Our own domain: the server routes the ping back to us, we answer it, and it returns.
        if (to === DOMAIN && /type=["']get["']/.test(m[0]) && state.echo) socket.write(`<iq type="result" id="${id}" from="${DOMAIN}" to="${DOMAIN}"/>`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port, sockets, iqs,
    get echo() { return state.echo; }, set echo(v) { state.echo = v; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let server: StandIn | undefined;
let conn: XmppConnection | undefined;
afterEach(async () => {
  await conn?.stop();
  await server?.close();
});

async function connect(keepaliveSeconds = 0): Promise<XmppConnection> {
  server = await standIn();
  const c = new XmppConnection({ service: `xmpp://127.0.0.1:${server.port}`, domain: DOMAIN, secret: "s", keepaliveSeconds }, log, { online() {}, offline() {}, stanza() {} });
  await c.start();
  await until("online", () => c.online);
  return c;
}

describe("XMPP component connection", () => {
  it("takes an IQ answer only from the entity asked, never a spoof under the same id", async () => {
    conn = await connect();
    const answer = conn.request(xml("iq", { type: "get", from: `junction@${DOMAIN}/j`, to: "upload.localhost" }, xml("request", { xmlns: "urn:xmpp:http:upload:0" })));
    const q = await until("the request", () => server!.iqs.find((i) => i.to === "upload.localhost"));
    q.socket.write(`<iq type="result" id="${q.id}" from="mallory@localhost/x" to="junction@${DOMAIN}/j"><slot xmlns="urn:xmpp:http:upload:0"><put url="http://evil"/></slot></iq>`);
    q.socket.write(`<iq type="result" id="${q.id}" from="upload.localhost/x" to="junction@${DOMAIN}/j"><slot xmlns="urn:xmpp:http:upload:0"><put url="http://evil-resource"/></slot></iq>`);
    q.socket.write(`<iq type="result" id="${q.id}" from="Upload.Localhost" to="junction@${DOMAIN}/j"><slot xmlns="urn:xmpp:http:upload:0"><put url="http://good"/></slot></iq>`);
    const el: Element = await answer;
    expect(el.getChild("slot")?.getChild("put")?.attrs.url).toBe("http://good");
  });

  it("uses ids that follow no pattern", async () => {
    conn = await connect();
    for (let i = 0; i < 3; i++) void conn.request(xml("iq", { type: "get", to: "x.localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })), 200).catch(() => undefined);
    const ids = (await until("three requests", () => server!.iqs.length >= 3 && server!.iqs)).map((q) => q.id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^jq-[A-Za-z0-9_-]{16}$/);
  });

  it("replaces a stream whose keepalive goes unanswered", async () => {
    conn = await connect(1);
    await until("a first keepalive", () => server!.iqs.some((q) => q.to === DOMAIN));
    server!.echo = false;
    await until("a second connection", () => server!.sockets.length >= 2 || undefined, 10_000);
  });
});
