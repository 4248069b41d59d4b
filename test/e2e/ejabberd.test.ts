/**
 * Junction on ejabberd, set up as docs/operations.md says (test/harness/ejabberd.ts writes that
 * config): the component connects, the bot creates and joins its room, messages cross to and
 * from Matrix, and a file from Matrix reaches XMPP as an upload through mod_http_upload (the
 * access rule for the bridge's domain is what makes that work: without it the slot is refused).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { startEjabberd, type EjabberdServer } from "../harness/ejabberd.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { connectPerson, type Person } from "../harness/xmpp-person.ts";
import { reads, troubleshootingRows } from "../support/troubleshooting.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

let ej: EjabberdServer;
let syn: TestSynapse;
let junction: RunningJunction;
let alice: Person;
let bob: MatrixPerson;
let roomId: string;
let muc: string;
const lines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  [ej, syn] = await Promise.all([startEjabberd(), startTestSynapse()]);
  muc = `bridge-test@${ej.mucDomain}`;
  await ej.registerUser("alice", "alice-pw");
  alice = await connectPerson({ c2sService: ej.c2sService, host: ej.host }, "alice", "alice-pw");
  const b = await syn.registerUser("bob", "Bob");
  bob = matrixPerson(syn.url, b.userId, b.token);
  roomId = (await bob.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "ej" }) as { room_id: string }).room_id;
  const dir = mkdtempSync(join(tmpdir(), "junction-ejabberd-test-"));
  trackTempDir(dir);
  const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  junction = await runJunction({ store: { path: join(dir, "junction.db") }, links: { ej: { xmpp: [muc], matrix: ["#ej:localhost"] } } }, [
    new XmppAdapter({
      server: ej.componentService, component: ej.componentDomain, secret: ej.componentSecret, nick: "Junction", history: 0, upload: ej.uploadDomain,
    }, log.child({ network: "xmpp" })),
    new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" })),
  ], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("matrix") === true, 30_000);
}, 120_000);

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await junction?.stop().catch(() => undefined);
  await Promise.allSettled([ej?.stop(), syn?.stop()]);
});

it("the component connects and the bot creates and joins its room (ejabberd never locks new rooms)", async () => {
  expect(lines.some((l) => l.msg === "XMPP component online")).toBe(true);
  await until("the bot in the room", () => lines.some((l) => l.msg === "bot joined room"), 15_000);
  await alice.join(muc, "alice", { maxHistory: 0 });
  expect(lines.filter((l) => l.level >= 50)).toEqual([]);
});

it("messages cross both ways", async () => {
  await alice.say(muc, "hello from ejabberd");
  await until("on Matrix", () => bob.timeline(roomId).some((e) => String(e.sender).startsWith("@_junction_") && e.content.body === "hello from ejabberd"), 20_000);
  await bob.say(roomId, "hello from matrix");
  await alice.waitFor((el) => el.is("message") && el.attrs.from === `${muc}/Bob` && el.getChildText("body") === "hello from matrix", 20_000, "Bob's message on XMPP");
});

it("a file from Matrix arrives as an upload to ejabberd's mod_http_upload", async () => {
  const content = `a file for ejabberd ${Date.now()}`;
  const mxc = await bob.uploadMedia(content, "text/plain", "notes.txt");
  await bob.send(roomId, { msgtype: "m.file", body: "notes.txt", url: mxc, info: { mimetype: "text/plain", size: content.length } });
  const msg = await alice.waitFor((el) => el.is("message") && el.attrs.from === `${muc}/Bob` && !!el.getChild("x", "jabber:x:oob"), 30_000, "the file on XMPP");
  const url = msg.getChild("x", "jabber:x:oob")!.getChildText("url")!;
  expect(url.startsWith(`http://127.0.0.1:${ej.httpPort}/upload/`)).toBe(true);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe(content);
}, 60_000);

it("a file Alice uploads to ejabberd reaches Matrix as a file: Junction learned from its own slot where ejabberd keeps everyone's files (no media.allowHosts)", async () => {
  const content = `alice's notes ${Date.now()}`;
  const iqCaller = (alice.xmpp as unknown as { iqCaller: { request(el: Element): Promise<Element> } }).iqCaller;
  const slot = (await iqCaller.request(xml("iq", { type: "get", to: ej.uploadDomain },
    xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "alice.txt", size: String(content.length), "content-type": "text/plain" })))).getChild("slot", "urn:xmpp:http:upload:0")!;
  const get = slot.getChild("get")!.attrs.url as string;
  expect((await fetch(slot.getChild("put")!.attrs.url as string, { method: "PUT", body: content, headers: { "content-type": "text/plain" } })).status).toBeLessThan(300);
  // ejabberd keeps each person's files in a directory of their own: /upload/<person>/<slot>/<name>.
  expect(get).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${ej.httpPort}/upload/[^/]+/[^/]+/alice\\.txt$`));
  await alice.say(muc, get, xml("x", { xmlns: "jabber:x:oob" }, xml("url", {}, get)));
  const ev = await until("Alice's file on Matrix", () => bob.timeline(roomId).find((e) => String(e.sender).startsWith("@_junction_") && e.content.msgtype === "m.file" && e.content.body === "alice.txt"), 20_000);
  expect(Buffer.from((await bob.downloadMedia(String(ev.content.url))).data).toString()).toBe(content);
  expect(lines.find((l) => l.msg === "XMPP upload service (configured)")).toMatchObject({ files: `127.0.0.1:${ej.httpPort}/upload/` });
}, 60_000);

it("without the access rule for the bridge's domain, ejabberd refuses the slot and the file arrives as a note with its name", async () => {
  await junction.stop();
  const plain = await startEjabberd({ bridgeUploads: false });
  let carol: Person | undefined;
  let second: RunningJunction | undefined;
  try {
    await plain.registerUser("carol", "carol-pw");
    carol = await connectPerson({ c2sService: plain.c2sService, host: plain.host }, "carol", "carol-pw");
    const room = `plain@${plain.mucDomain}`;
    const dir = mkdtempSync(join(tmpdir(), "junction-ejabberd-plain-"));
    trackTempDir(dir);
    const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
    const from = lines.length;
    second = await runJunction({ store: { path: join(dir, "junction.db") }, links: { ej: { xmpp: [room], matrix: ["#ej:localhost"] } } }, [
      new XmppAdapter({
        server: plain.componentService, component: plain.componentDomain, secret: plain.componentSecret, nick: "Junction", history: 0, upload: plain.uploadDomain,
      }, log.child({ network: "xmpp" })),
      new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" })),
    ], log);
    const j = second;
    await until("both networks ready", () => j.connected().get("xmpp") === true && j.connected().get("matrix") === true, 30_000);
    await until("the bot in the room", () => lines.slice(from).some((l) => l.msg === "bot joined room"), 15_000);
    await carol.join(room, "carol", { maxHistory: 0 });
    const mxc = await bob.uploadMedia("not uploaded", "text/plain", "refused.txt");
    await bob.send(roomId, { msgtype: "m.file", body: "refused.txt", url: mxc, info: { mimetype: "text/plain", size: 12 } });
    const msg = await carol.waitFor((el) => el.is("message") && el.attrs.from === `${room}/Bob` && (el.getChildText("body") ?? "").includes("refused.txt"), 30_000, "the file's note on XMPP");
    expect(msg.getChildText("body")).toMatch(/📎 refused\.txt/);
    expect(msg.getChild("x", "jabber:x:oob")?.getChildText("url") ?? "").not.toContain(`127.0.0.1:${plain.httpPort}/upload/`);
    // The line docs/operations.md's troubleshooting table quotes for it.
    const refused = lines.slice(from).find((l) => l.level >= 40 && /forbidden/.test(String((l as { reason?: unknown }).reason)));
    expect(refused, JSON.stringify(lines.slice(from).filter((l) => l.level >= 40))).toBeDefined();
    expect(troubleshootingRows().flatMap((r) => r.lines).some((d) => reads(refused!.msg, d))).toBe(true);
  } finally {
    await carol?.stop();
    await second?.stop();
    await plain.stop();
  }
}, 90_000);
