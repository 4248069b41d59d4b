/**
 * Live reload (issue 14, "Steering it"): Junction runs in its own process, as operators start
 * it, bridging a real Prosody, a real Synapse and the Discord emulator. Links A and B run; the
 * config file is rewritten with A removed and C added, and a real SIGHUP is sent while people
 * talk in B. Then: C carries messages in every direction, A carries nothing and Junction's
 * puppets, ghosts and bots have left A's rooms, and everything said in B during the reload
 * arrived exactly once. An invalid file, SIGHUP: the log has check-config's own message, and
 * everything still works.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Element } from "@xmpp/xml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { spawnJunction, type JunctionProcess } from "../harness/junction-process.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { Person } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

let prosody: ProsodyServer;
let syn: TestSynapse;
let emu: DiscordEmulator;
let junction: JunctionProcess | undefined;
let carol: MatrixPerson;
let alice: DiscordPerson;
const xmpp: Record<"a" | "b" | "c", Person> = {} as never;
const matrix: Record<"a" | "b" | "c", string> = {} as never;
const discord: Record<"a" | "b" | "c", string> = {} as never;
const muc = (k: string) => `reload-${k}@${prosody.mucDomain}`;

beforeAll(async () => {
  [prosody, syn, emu] = await Promise.all([
    startProsody(), startTestSynapse(),
    startDiscordEmulator({ channels: ["a", "b", "c"], rateLimits: { "webhook.execute": { limit: 200, windowMs: 1000 } }, heartbeatIntervalMs: 5000 }),
  ]);
  [discord.a, discord.b, discord.c] = emu.channels.map((c) => c.id) as [string, string, string];
  alice = emu.person({ username: "alice" });
  const c = await syn.registerUser("carol", "Carol");
  carol = matrixPerson(syn.url, c.userId, c.token);
  for (const k of ["a", "b", "c"] as const) {
    matrix[k] = (await carol.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: `reload-${k}` }) as { room_id: string }).room_id;
    await prosody.registerUser(`x${k}`, "pw");
    xmpp[k] = new Person(prosody, `x${k}`, muc(k));
    await xmpp[k].join();
  }
}, 180_000);

afterAll(async () => {
  await junction?.stop();
  await Promise.allSettled(Object.values(xmpp).map((p) => p.stop()));
  await carol?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop(), emu?.stop()]);
});

const link = (k: "a" | "b" | "c") => ({ xmpp: [muc(k)], matrix: [`#reload-${k}:localhost`], discord: [discord[k]] });
const config = (links: Record<string, unknown>, nick = "Junction") => ({
  xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick, history: 0 },
  matrix: (({ homeserver, domain, listen, registration, ghostPrefix }) => ({ homeserver, domain, listen: `${listen.host}:${listen.port}`, registration, ghostPrefix }))(syn.matrixConfig),
  discord: { token: emu.token, api: emu.api, cdn: emu.cdn },
  links,
});

const body = (el: Element) => el.getChildText("body") ?? "";
const onXmpp = (k: "a" | "b" | "c", text: string) => xmpp[k].messages().filter((m) => body(m) === text && m.attrs.from !== `${muc(k)}/x${k}`);
const onMatrix = (k: "a" | "b" | "c", text: string) => carol.timeline(matrix[k]).filter((e) => e.sender !== carol.userId && (e.content as { body?: string })?.body === text);
const onDiscord = (k: "a" | "b" | "c", text: string) => emu.seen(discord[k]).filter((m) => m.webhookId && m.content === text);

/** Said once on each network of link `k`: each arrives on the other two. */
async function sayEverywhere(k: "a" | "b" | "c", tag: string): Promise<void> {
  await xmpp[k].say(`${tag} from xmpp`);
  await carol.say(matrix[k], `${tag} from matrix`);
  alice.send(discord[k], `${tag} from discord`);
}

function arrivedOnce(k: "a" | "b" | "c", tag: string): boolean {
  return onMatrix(k, `${tag} from xmpp`).length === 1 && onDiscord(k, `${tag} from xmpp`).length === 1
    && onXmpp(k, `${tag} from matrix`).length === 1 && onDiscord(k, `${tag} from matrix`).length === 1
    && onXmpp(k, `${tag} from discord`).length === 1 && onMatrix(k, `${tag} from discord`).length === 1;
}

/** Occupants of an XMPP room other than the person, by the presences the person heard last. */
function othersIn(k: "a" | "b" | "c"): string[] {
  const last = new Map<string, boolean>();
  for (const el of xmpp[k].heard) {
    if (!el.is("presence")) continue;
    const from = String(el.attrs.from ?? "");
    if (!from.startsWith(`${muc(k)}/`) || from === `${muc(k)}/x${k}`) continue;
    last.set(from.slice(muc(k).length + 1), el.attrs.type !== "unavailable");
  }
  return [...last].filter(([, here]) => here).map(([nick]) => nick).sort();
}

/** Junction's users (bot and ghosts) joined to a Matrix room, by its member events. */
function oursIn(k: "a" | "b" | "c"): string[] {
  const last = new Map<string, string>();
  for (const e of carol.timeline(matrix[k])) {
    if (e.type === "m.room.member" && String(e.state_key).startsWith("@_junction_")) last.set(String(e.state_key), String((e.content as { membership?: string }).membership));
  }
  return [...last].filter(([, m]) => m === "join").map(([id]) => id).sort();
}

it("applies a new link set on SIGHUP without losing or doubling anything, and refuses an invalid file", async () => {
  junction = await spawnJunction(config({ A: link("a"), B: link("b") }), 3);
  await sayEverywhere("a", "a before");
  await sayEverywhere("b", "b before");
  await until("A and B cross before the reload", () => arrivedOnce("a", "a before") && arrivedOnce("b", "b before"), 30_000);
  expect(othersIn("a").length).toBeGreaterThanOrEqual(3); // the bot, Carol's and alice's puppets
  expect(oursIn("a").length).toBeGreaterThanOrEqual(3); // the bot, xa's and alice's ghosts

  // A removed, C added, and a key that cannot change live; people keep talking in B meanwhile.
  junction.rewrite(config({ B: link("b"), C: link("c") }, "Junction2"));
  const applied = junction.nextLine("reload applied");
  const restart = junction.nextLine("restart to apply");
  junction.signal("SIGHUP");
  let done = false;
  void applied.then(() => { done = true; }, () => undefined);
  const during: string[] = [];
  for (let i = 0; !done || i < 3; i++) {
    during.push(`b during ${i}`);
    await sayEverywhere("b", `b during ${i}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const line = JSON.parse(await applied) as Record<string, unknown>;
  expect(line).toMatchObject({ added: 1, removed: 1, changed: 0, roomsJoined: 3, roomsLeft: 3, links: { added: ["C"], removed: ["A"], changed: [] } });
  expect(JSON.parse(await restart)).toMatchObject({ keys: ["xmpp.nick"] });

  // Everything said in B during the reload arrived, once.
  await until("B's messages from during the reload", () => during.every((t) => arrivedOnce("b", t)), 30_000);
  // C works in every direction.
  await sayEverywhere("c", "c after");
  await until("C carries messages in every direction", () => arrivedOnce("c", "c after"), 30_000);
  // A's puppets and ghosts, and the bots, left; nothing crosses A any more.
  await until("Junction's occupants left the XMPP room of A", () => othersIn("a").length === 0, 15_000);
  await until("Junction's bot and ghosts left the Matrix room of A", () => oursIn("a").length === 0, 15_000);
  await sayEverywhere("a", "a after");
  await new Promise((r) => setTimeout(r, 3000));
  for (const n of ["xmpp", "matrix", "discord"]) {
    expect(onXmpp("a", `a after from ${n}`), `A on XMPP from ${n}`).toEqual([]);
    expect(onMatrix("a", `a after from ${n}`), `A on Matrix from ${n}`).toEqual([]);
    expect(onDiscord("a", `a after from ${n}`), `A on Discord from ${n}`).toEqual([]);
  }
  for (const t of during) expect(arrivedOnce("b", t), `${t} exactly once`).toBe(true);

  // An invalid file: refused with check-config's own words; the running links stay.
  junction.rewrite({ ...config({ B: link("b"), C: link("c") }), links: { B: { xmpp: 42 } } });
  const check = spawnSync("sh", [join(root, "bin/junction"), "check-config", "--config", junction.configFile], { encoding: "utf8" });
  expect(check.status).toBe(2);
  const refused = junction.nextLine("reload refused");
  junction.signal("SIGHUP");
  const reason = (JSON.parse(await refused) as { reason: string }).reason;
  expect(reason).toBe(check.stderr.trim());
  expect(reason).toContain("links.B.xmpp");
  await sayEverywhere("b", "b after invalid");
  await sayEverywhere("c", "c after invalid");
  await until("B and C still work", () => arrivedOnce("b", "b after invalid") && arrivedOnce("c", "c after invalid"), 30_000);
  expect(junction.logged("reload refused")).toHaveLength(1);
  // Nothing on stderr an operator cannot act on (matrix-bot-sdk's util._extend deprecation was, at every start).
  expect(junction.stderr()).not.toMatch(/Warning/);
}, 300_000);
