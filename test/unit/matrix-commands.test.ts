import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { MatrixCommands, type CommandDeps } from "../../bridges/matrix/commands.ts";
import { answerText, HELP, parseCommand } from "../../core/admin-command.ts";
import { NotReadyError } from "../../core/errors.ts";

describe("!junction commands", () => {
  it.each([
    ["!junction", { action: "help" }],
    ["!junction help", { action: "help" }],
    ["  !Junction   PAUSE lobby ", { action: "pause", link: "lobby" }],
    ["!junction status", { action: "status" }],
    ["!junction retry dev extra words", { action: "retry", link: "dev" }],
    ["!junction frobnicate", { unknown: "frobnicate" }],
    ["!junctionx links", undefined],
    ["hello !junction links", undefined],
  ])("%j", (body, want) => {
    expect(parseCommand(body)).toEqual(want);
  });

  it("words answers, refusals and errors", () => {
    expect(answerText("help", { ok: true, value: undefined })).toBe(HELP);
    expect(answerText("pause", { ok: false, refused: "@eve:hs is not one of Junction's admins" })).toBe("Refused: @eve:hs is not one of Junction's admins.");
    expect(answerText("retry", { ok: false, error: 'there is no link named "x"' })).toBe('there is no link named "x".');
    expect(answerText("retry", { ok: true, value: { link: "lobby", requeued: 1, more: false } })).toBe("1 failed delivery of lobby put back in their queues.");
    expect(answerText("reload", { ok: true, value: { applied: true, added: ["new"], removed: [], changed: ["lobby"] } })).toBe("Config reloaded: added new; changed lobby.");
  });
});

describe("the admin room at connect", () => {
  const commands = (resolve: () => Promise<string>, joined: string[]) => new MatrixCommands({
    hs: { request: async (_m: string, path: string) => { joined.push(path); return {}; } },
    rooms: { resolve },
    desk: {},
    bot: "@_junction_bot:hs",
    adminRoom: "#admins:hs",
    log: pino({ level: "silent" }),
  } as unknown as CommandDeps);

  it("joins it by its room id", async () => {
    const joined: string[] = [];
    await commands(async () => "!a:hs", joined).connect();
    expect(joined).toEqual(["/_matrix/client/v3/join/!a%3Ahs"]);
  });

  it("one that does not exist is logged and does not hold up the connection; a lost homeserver does", async () => {
    await expect(commands(async () => { throw new Error("matrix room alias #admins:hs does not exist"); }, []).connect()).resolves.toBeUndefined();
    await expect(commands(async () => { throw new NotReadyError("homeserver unreachable"); }, []).connect()).rejects.toThrow("homeserver unreachable");
  });
});

describe("what is taken as a command", () => {
  it("an admin's m.text in the admin room is, a notice (another bot's answer) or an edit is not", async () => {
    const sent: string[] = [];
    const runs: string[] = [];
    const c = new MatrixCommands({
      hs: { request: async (method: string, path: string) => { sent.push(`${method} ${path.split("/").slice(0, 7).join("/")}`); return {}; } },
      rooms: { resolve: async () => "!a:hs" },
      desk: { isAdmin: () => true, run: async (_a: unknown, action: string) => { runs.push(action); return { ok: true, value: undefined }; } },
      bot: "@_junction_bot:hs",
      adminRoom: "#admins:hs",
      log: pino({ level: "silent" }),
    } as unknown as CommandDeps);
    await c.connect();
    const ev = (id: string, content: Record<string, unknown>) => ({ type: "m.room.message", room_id: "!a:hs", sender: "@root:hs", event_id: id, content }) as never;
    c.take(ev("$1", { msgtype: "m.notice", body: "!junction help" }));
    c.take(ev("$2", { msgtype: "m.text", body: "!junction help", "m.relates_to": { rel_type: "m.replace", event_id: "$0" } }));
    c.take(ev("$3", { msgtype: "m.text", body: "!junction help" }));
    c.take(ev("$3", { msgtype: "m.text", body: "!junction help" })); // the same event again: answered once
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual(["help"]);
    expect(sent.filter((s) => s.startsWith("PUT"))).toHaveLength(1);
  });
});
