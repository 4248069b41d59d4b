/**
 * Proves the end-to-end harness itself: real Prosody and Synapse start on loopback ports, real
 * protocol clients talk through them, restarts keep ports. Other e2e files build on these helpers.
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { component, xml } from "@xmpp/component";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { startSynapse, type SynapseServer } from "../harness/synapse.ts";
import { connectPerson, newPerson, type Person } from "../harness/xmpp-person.ts";
import { registerPerson, type MatrixPerson } from "../harness/matrix-person.ts";

const SID = "urn:xmpp:sid:0";

describe("Prosody harness", () => {
  let prosody: ProsodyServer;
  const people: Person[] = [];

  beforeAll(async () => {
    prosody = await startProsody();
  });
  afterAll(async () => {
    for (const p of people) await p.stop();
    await prosody?.stop();
  });

  it("lets two people join a MUC and see each other's messages with a room stanza-id", async () => {
    const alice = await newPerson(prosody, "alice");
    const bob = await newPerson(prosody, "bob");
    people.push(alice, bob);
    const room = `lobby@${prosody.mucDomain}`;
    const self = await alice.join(room, "Alice");
    expect(self.attrs.from).toBe(`${room}/Alice`);
    await bob.join(room, "Bob");

    const id = await alice.say(room, "hello from alice");
    const seen = await bob.waitFor((s) => s.is("message") && s.attrs.id === id);
    expect(seen.getChildText("body")).toBe("hello from alice");
    expect(seen.attrs.from).toBe(`${room}/Alice`);
    const sid = seen.getChild("stanza-id", SID);
    expect(sid?.attrs.by).toBe(room);
    expect(sid?.attrs.id).toBeTruthy();

    // The sender's own echo carries the same stanza-id: one id for all copies.
    const echo = await alice.waitFor((s) => s.is("message") && s.attrs.id === id);
    expect(echo.getChild("stanza-id", SID)?.attrs.id).toBe(sid?.attrs.id);

    const reply = await bob.say(room, "hi alice");
    await alice.waitFor((s) => s.is("message") && s.attrs.id === reply);
    expect(alice.messages(room).map((m) => m.getChildText("body"))).toEqual(["hello from alice", "hi alice"]);
  });

  it("accepts a component with the right secret and refuses a wrong one", async () => {
    const good = component({ service: prosody.componentService, domain: prosody.componentDomain, password: prosody.componentSecret });
    good.on("error", () => {});
    const jid = await good.start();
    expect(jid.toString()).toBe(prosody.componentDomain);
    const pong = await good.iqCaller.request(xml("iq", { type: "get", to: prosody.host, from: prosody.componentDomain }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    await good.stop();

    const bad = component({ service: prosody.componentService, domain: prosody.componentDomain, password: "not-the-secret" });
    bad.on("error", () => {});
    bad.reconnect.stop();
    await expect(bad.start()).rejects.toThrow(/not-authorized/);
  });

  it("restarts on the same ports with the same accounts", async () => {
    const ports = [prosody.c2sPort, prosody.componentPort];
    await prosody.registerUser("carol", "carol-pw");
    await prosody.restart();
    expect([prosody.c2sPort, prosody.componentPort]).toEqual(ports);
    expect(prosody.running).toBe(true);
    const carol = await connectPerson(prosody, "carol", "carol-pw");
    people.push(carol);
    await carol.join(`after-restart@${prosody.mucDomain}`, "Carol");
  });

  it("comes back after a crash (SIGKILL) on the same ports", async () => {
    await prosody.kill();
    expect(prosody.running).toBe(false);
    await prosody.restart();
    const carol = await connectPerson(prosody, "carol", "carol-pw");
    people.push(carol);
    expect(carol.bareJid).toBe(`carol@${prosody.host}`);
  });

  it("says how to install Prosody when it is missing", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(startProsody()).rejects.toThrow("Prosody is not installed: apt-get install prosody");
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("Prosody harness with XEP-0363 upload", () => {
  let prosody: ProsodyServer;
  beforeAll(async () => {
    prosody = await startProsody({ upload: true });
  });
  afterAll(async () => {
    await prosody?.stop();
  });

  it("gives the component an upload slot whose PUT and GET work over loopback HTTP", async () => {
    const bridge = component({ service: prosody.componentService, domain: prosody.componentDomain, password: prosody.componentSecret });
    bridge.on("error", () => {});
    await bridge.start();
    try {
      const reply = await bridge.iqCaller.request(
        xml("iq", { type: "get", to: prosody.uploadDomain, from: prosody.componentDomain },
          xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "hello.txt", size: "5", "content-type": "text/plain" })),
      );
      const slot = reply.getChild("slot", "urn:xmpp:http:upload:0");
      const put = slot?.getChild("put");
      const get = slot?.getChild("get");
      expect(put?.attrs.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${prosody.uploadPort}/`));
      const headers: Record<string, string> = { "content-type": "text/plain" };
      for (const h of put?.getChildren("header") ?? []) headers[h.attrs.name ?? ""] = h.getText();
      expect((await fetch(put?.attrs.url ?? "", { method: "PUT", body: "hello", headers })).status).toBe(201);
      expect(await (await fetch(get?.attrs.url ?? "")).text()).toBe("hello");
    } finally {
      await bridge.stop();
    }
  });
});

describe("Synapse harness", () => {
  let synapse: SynapseServer;
  const people: MatrixPerson[] = [];
  const asToken = "harness-as-token";

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "junction-harness-"));
    trackTempDir(dir);
    const registration = join(dir, "registration.yaml");
    const asPort = await freePort(); // nothing listens: Synapse only needs the URL to be valid
    writeFileSync(registration, [
      `id: harness-test`,
      `url: "http://127.0.0.1:${asPort}"`,
      `as_token: "${asToken}"`,
      `hs_token: "harness-hs-token"`,
      `sender_localpart: "harnessbot"`,
      `rate_limited: false`,
      `namespaces:`,
      `  users: [{ exclusive: true, regex: "@_harness_.*:localhost" }]`,
      `  aliases: []`,
      `  rooms: []`,
    ].join("\n"));
    synapse = await startSynapse({ registration });
  });
  afterAll(async () => {
    for (const p of people) await p.stop();
    await synapse?.stop();
  });

  it("loads the appservice registration", async () => {
    const res = await fetch(`${synapse.url}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${asToken}` } });
    expect(await res.json()).toMatchObject({ user_id: "@harnessbot:localhost" });
  });

  it("lets two registered people share a room and see a message through /sync", async () => {
    const alice = await registerPerson(synapse, "alice");
    const bob = await registerPerson(synapse, "bob");
    people.push(alice, bob);
    const roomId = await alice.createRoom({ alias: "lobby", preset: "public_chat" });
    expect(await bob.join(`#lobby:${synapse.serverName}`)).toBe(roomId);
    const eventId = await alice.say(roomId, "hello over matrix");
    const arrival = await bob.waitFor((a) => a.kind === "timeline" && a.event.event_id === eventId);
    expect(arrival.roomId).toBe(roomId);
    expect(arrival.event.sender).toBe(alice.userId);
    expect(arrival.event.content.body).toBe("hello over matrix");

    await bob.typing(roomId, true);
    await alice.waitFor((a) => a.kind === "ephemeral" && a.event.type === "m.typing" && (a.event.content.user_ids as string[]).includes(bob.userId));
  });

  it("gives Matrix people reactions, edits, redactions, profiles, presence and media", async () => {
    const [alice, bob] = people as [MatrixPerson, MatrixPerson];
    const roomId = await alice.createRoom({ invite: [bob.userId], preset: "private_chat" });
    await bob.waitFor((a) => a.kind === "invite" && a.roomId === roomId, 5000, "the invite");
    await bob.join(roomId);
    const msg = await alice.say(roomId, "original");
    const reaction = await bob.react(roomId, msg, "👍");
    const edit = await alice.edit(roomId, msg, "edited");
    const redaction = await alice.redact(roomId, msg, "oops");
    for (const id of [reaction, edit, redaction]) await bob.waitFor((a) => a.kind === "timeline" && a.event.event_id === id, 5000, `event ${id}`);
    expect(bob.timeline(roomId).find((e) => e.event_id === reaction)?.content["m.relates_to"]).toMatchObject({ key: "👍", event_id: msg });

    await alice.setDisplayName("Alice A.");
    await bob.waitFor((a) => a.kind === "timeline" && a.roomId === roomId && a.event.type === "m.room.member" && a.event.content.displayname === "Alice A.", 5000, "the new display name");
    await alice.setPresence("unavailable", "lunch");
    await bob.waitFor((a) => a.kind === "presence" && a.event.sender === alice.userId && a.event.content.presence === "unavailable", 5000, "alice's presence");

    const mxc = await alice.uploadMedia("png-ish bytes", "image/png", "pic.png");
    const media = await bob.downloadMedia(mxc);
    expect(new TextDecoder().decode(media.data)).toBe("png-ish bytes");
  });
});
