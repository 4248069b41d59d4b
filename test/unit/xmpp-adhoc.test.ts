import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AdminDesk } from "../../core/admin.ts";
import { UnknownLink, type PauseOutcome, type Steering } from "../../core/steering.ts";
import { AdHocCommands, COMMANDS_NS } from "../../bridges/xmpp/adhoc.ts";

const COMPONENT = "bridge.localhost";
const ADMIN = "root@localhost/laptop";

function setup() {
  const paused: string[] = [];
  const steering: Steering = {
    links: () => [{ name: "lobby", paused: false, rooms: [{ network: "xmpp", room: "lobby@muc" }], queued: 0, failed: 2 }, { name: "dev", paused: false, rooms: [], queued: 0, failed: 0 }],
    status: () => ({ networks: [], links: [] }),
    retry: (link) => {
      if (link !== "lobby" && link !== "dev") throw new UnknownLink(`there is no link named "${link}"`);
      return { link, requeued: 2, more: false };
    },
    pause: (link): PauseOutcome => { paused.push(link); return { link, paused: true, changed: true, queued: 3 }; },
    resume: (link) => ({ link, paused: false, changed: true, queued: 3 }),
    reload: async () => ({ applied: false, reason: "the file is gone" }),
  };
  const adhoc = new AdHocCommands(COMPONENT, new AdminDesk({ xmpp: ["root@localhost"] }, steering, pino({ level: "silent" })));
  return { adhoc, paused };
}

const iq = (from: string, type: "get" | "set", child: Element) => xml("iq", { type, from, to: COMPONENT, id: "q1" }, child);
const command = (node: string, attrs: Record<string, string> = {}, ...children: Element[]) => xml("command", { xmlns: COMMANDS_NS, node, ...attrs }, ...children);
const submit = (link: string) => xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "link" }, xml("value", {}, link)));

describe("XEP-0050 admin commands", () => {
  it("lists the commands to an admin and none to anyone else", async () => {
    const { adhoc } = setup();
    const list = xml("query", { xmlns: "http://jabber.org/protocol/disco#items", node: COMMANDS_NS });
    expect(adhoc.handles(iq(ADMIN, "get", list))).toBe(true);
    const mine = await adhoc.answer(iq(ADMIN, "get", list));
    expect(mine.getChild("query")!.getChildren("item").map((i) => i.attrs.node)).toEqual(["links", "status", "retry", "pause", "resume", "reload"]);
    const theirs = await adhoc.answer(iq("mallory@localhost/x", "get", list));
    expect(theirs.getChild("query")!.getChildren("item")).toEqual([]);
  });

  it("asks for a link in a list-single, then runs the command on submit", async () => {
    const { adhoc, paused } = setup();
    const first = (await adhoc.answer(iq(ADMIN, "set", command("pause", { action: "execute" })))).getChild("command")!;
    expect(first.attrs.status).toBe("executing");
    const field = first.getChild("x", "jabber:x:data")!.getChild("field")!;
    expect(field.attrs).toMatchObject({ var: "link", type: "list-single" });
    expect(field.getChildren("option").map((o) => o.getChildText("value"))).toEqual(["lobby", "dev"]);
    const done = (await adhoc.answer(iq(ADMIN, "set", command("pause", { sessionid: first.attrs.sessionid!, action: "complete" }, submit("lobby"))))).getChild("command")!;
    expect(done.attrs).toMatchObject({ status: "completed", sessionid: first.attrs.sessionid });
    expect(done.getChildText("note")).toBe("lobby is paused: its deliveries wait in the outbox (3 now) until resume.");
    expect(paused).toEqual(["lobby"]);
  });

  it("a session belongs to the full JID that opened it", async () => {
    const { adhoc, paused } = setup();
    const first = (await adhoc.answer(iq(ADMIN, "set", command("pause")))).getChild("command")!;
    const other = await adhoc.answer(iq("root@localhost/phone", "set", command("pause", { sessionid: first.attrs.sessionid! }, submit("lobby"))));
    expect(other.attrs.type).toBe("error");
    expect(other.getChild("error")!.getChild("bad-sessionid", COMMANDS_NS)).toBeDefined();
    expect(paused).toEqual([]);
  });

  it("refuses a non-admin with forbidden and a text that says why", async () => {
    const { adhoc, paused } = setup();
    const reply = await adhoc.answer(iq("mallory@localhost/x", "set", command("pause", {}, submit("lobby"))));
    expect(reply.attrs.type).toBe("error");
    const err = reply.getChild("error")!;
    expect(err.attrs.type).toBe("auth");
    expect(err.getChild("forbidden")).toBeDefined();
    expect(err.getChildText("text")).toBe("mallory@localhost is not one of Junction's admins; ask an admin to add you to admin.xmpp in its config");
    expect(paused).toEqual([]);
  });

  it("an unknown link is a completed command with an error note; commands without a link finish at once", async () => {
    const { adhoc } = setup();
    const bad = (await adhoc.answer(iq(ADMIN, "set", command("retry", {}, submit("nope"))))).getChild("command")!;
    expect(bad.attrs.status).toBe("completed");
    expect(bad.getChild("note")!.attrs.type).toBe("error");
    expect(bad.getChildText("note")).toBe('there is no link named "nope"');
    const links = (await adhoc.answer(iq(ADMIN, "set", command("links")))).getChild("command")!;
    expect(links.attrs.status).toBe("completed");
    const items = links.getChild("x", "jabber:x:data")!.getChildren("item");
    expect(items.map((i) => i.getChildren("field").map((f) => f.getChildText("value")))).toEqual([
      ["lobby", "active", "xmpp lobby@muc", "0", "2"], ["dev", "active", "", "0", "0"],
    ]);
    const reload = (await adhoc.answer(iq(ADMIN, "set", command("reload")))).getChild("command")!;
    expect(reload.getChildText("note")).toBe("The new config was refused; the running one stays:\nthe file is gone");
  });

  it("leaves IQs to the bot, to puppets and other namespaces alone", () => {
    const { adhoc } = setup();
    expect(adhoc.handles(xml("iq", { type: "set", from: ADMIN, to: `junction@${COMPONENT}`, id: "1" }, command("links")))).toBe(false);
    expect(adhoc.handles(iq(ADMIN, "get", xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })))).toBe(false);
    expect(adhoc.handles(iq(ADMIN, "get", xml("ping", { xmlns: "urn:xmpp:ping" })))).toBe(false);
  });
});
