/**
 * `!junction …` admin commands (core/admin.ts) for Matrix, taken in two kinds of room: the admin
 * room config names (`admin.matrixRoom`), and a direct chat: an unlinked room whose only joined
 * members are the bridge bot and the sender. Who asks is the homeserver's `sender`; the desk
 * decides whether that is an admin and logs every command and refusal. The bot accepts an invite
 * to the admin room, and to any other room only from an admin (that is how a DM starts); anyone
 * else's DM invite (`is_direct`) is declined with the reason. Answers are m.notice from the bot,
 * and an m.notice is never taken as a command; parsing and wording are core/admin-command.ts's,
 * shared with Discord.
 */
import type { Logger } from "pino";
import type { Actor, AdminDesk } from "../../core/admin.ts";
import { parseCommand, reply, type Command } from "../../core/admin-command.ts";
import { roomRef } from "../../core/events.ts";
import { NotReadyError } from "../../core/adapter.ts";
import type { Homeserver } from "./client.ts";
import type { Rooms } from "./rooms.ts";
import { isObject, str, type RoomEvent } from "./types.ts";

const enc = encodeURIComponent;
/** Event ids already answered: a transaction sent again must not run a command twice. */
const REMEMBERED = 1000;

export interface CommandDeps {
  readonly hs: Homeserver;
  readonly rooms: Rooms;
  readonly desk: AdminDesk;
  /** The bridge bot's mxid. */
  readonly bot: string;
  /** `admin.matrixRoom` as configured (alias or room id). */
  readonly adminRoom: string | undefined;
  readonly log: Logger;
}

export class MatrixCommands {
  readonly #d: CommandDeps;
  #adminRoomId: string | undefined;
  readonly #answered = new Set<string>();
  #txn = 0;

  constructor(d: CommandDeps) {
    this.#d = d;
  }

  /** The bot joins the admin room (on each connect: it may have been invited meanwhile). */
  async connect(): Promise<void> {
    const configured = this.#d.adminRoom;
    if (configured === undefined) return;
    try {
      this.#adminRoomId = await this.#d.rooms.resolve(configured);
      await this.#d.hs.request("POST", `/_matrix/client/v3/join/${enc(this.#adminRoomId)}`, { body: {} });
      this.#d.log.info({ room: configured }, "the bridge bot is in the admin room");
    } catch (err) {
      if (err instanceof NotReadyError) throw err; // the homeserver is gone: the reconnect tries again
      this.#d.log.error({ room: configured, err: (err as Error).message }, "the bridge bot cannot join the admin room (invite it there); the admin commands work in a DM meanwhile");
    }
  }

  /** An event in a room that is not linked: an invite for the bot, or perhaps a command. Never throws. */
  take(ev: RoomEvent): void {
    const work = this.#take(ev);
    if (work) work.catch((err: unknown) => this.#d.log.warn({ room: ev.room_id, event: ev.event_id, err: (err as Error).message }, "could not handle an admin command"));
  }

  #take(ev: RoomEvent): Promise<void> | undefined {
    const { bot } = this.#d;
    if (ev.sender === bot) return undefined;
    if (ev.type === "m.room.member" && ev.state_key === bot && ev.content.membership === "invite") return this.#invited(ev);
    if (ev.type !== "m.room.message" || this.#answered.has(ev.event_id)) return undefined;
    const body = str(ev.content.body);
    // A notice is a bot's (Matrix's convention, and our own answers): never a command, so two
    // bots in one admin room cannot set each other off.
    if (body === undefined || ev.content.msgtype === "m.notice" || isObject(ev.content["m.relates_to"]) && str(ev.content["m.relates_to"].rel_type) === "m.replace") return undefined;
    const command = parseCommand(body);
    if (!command) return undefined;
    this.#remember(ev.event_id);
    return this.#command(ev, command);
  }

  async #invited(ev: RoomEvent): Promise<void> {
    const { hs, desk, log } = this.#d;
    if (this.#adminRoomId === undefined && this.#d.adminRoom !== undefined) await this.connect().catch(() => undefined);
    const actor: Actor = { network: "matrix", id: ev.sender, via: `invite to ${ev.room_id}` };
    const admitted = ev.room_id === this.#adminRoomId || desk.isAdmin(actor);
    // Someone else's invite to a group room is left alone, as before there were admin commands
    // (it may be a room config is about to link); a DM invite is declined, saying why.
    if (!admitted && ev.content.is_direct !== true) return;
    const refused = admitted ? undefined : desk.refusal(actor, "invite the bot");
    if (refused !== undefined) {
      await hs.request("POST", `/_matrix/client/v3/rooms/${enc(ev.room_id)}/leave`, { body: { reason: refused } });
      return;
    }
    await hs.request("POST", `/_matrix/client/v3/join/${enc(ev.room_id)}`, { body: {} });
    log.info({ admin: ev.sender, network: "matrix", room: ev.room_id, action: "invite the bot", outcome: "joined" }, "the bridge bot joined a room on an admin's invite");
  }

  async #command(ev: RoomEvent, command: Command): Promise<void> {
    const room = ev.room_id;
    const where = room === this.#adminRoomId ? "the admin room" : await this.#isDirect(room, ev.sender) ? "a DM" : undefined;
    if (where === undefined) {
      this.#d.log.debug({ room, sender: ev.sender }, "a !junction command outside the admin room and DMs; ignored");
      return;
    }
    const actor: Actor = { network: "matrix", id: ev.sender, via: `${where} ${room}` };
    const text = await reply(this.#d.desk, actor, command);
    if (text !== undefined) await this.#notice(room, text);
  }

  /** Only the bot and this sender are joined. */
  async #isDirect(room: string, sender: string): Promise<boolean> {
    const res = await this.#d.hs.request<{ joined?: unknown }>("GET", `/_matrix/client/v3/rooms/${enc(room)}/joined_members`);
    const members = isObject(res.joined) ? Object.keys(res.joined) : [];
    return members.length === 2 && members.includes(this.#d.bot) && members.includes(sender);
  }

  async #notice(room: string, text: string): Promise<void> {
    const txn = `junction-admin-${Date.now()}-${++this.#txn}`;
    await this.#d.hs.request("PUT", `/_matrix/client/v3/rooms/${enc(roomRef(room))}/send/m.room.message/${enc(txn)}`, { body: { msgtype: "m.notice", body: text } });
  }

  #remember(id: string): void {
    if (this.#answered.size >= REMEMBERED) this.#answered.delete(this.#answered.values().next().value!);
    this.#answered.add(id);
  }
}
