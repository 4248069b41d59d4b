/**
 * Who may steer Junction, and the one record of every time someone tried. The bridges decide who
 * a person is from what their server vouches for (the `from` the XMPP server stamps on the
 * component stream, the homeserver's `sender`) and hand that here as an Actor; this desk compares
 * it with `admin` in the config, runs the action on the Steering, and logs who did what and how
 * it ended. A refusal is logged too.
 */
import type { Logger } from "pino";
import type { Network } from "./events.ts";
import { reasonOf } from "./errors.ts";
import { UnknownLink, type LinkSummary, type PauseOutcome, type ReloadOutcome, type RetryOutcome, type Steering, type StatusReport } from "./steering.ts";

/** A person as their server vouches for them: an XMPP bare JID, a Matrix user id. */
export interface Actor {
  readonly network: Network;
  readonly id: string;
  /** Where the command came from (the admin room, a DM, the component), for the log. */
  readonly via?: string;
}

/** Admins by network, as config's `admin` section lists them. */
export type AdminList = Readonly<Partial<Record<Network, readonly string[]>>>;

export interface AdminResults {
  help: undefined;
  links: LinkSummary[];
  status: StatusReport;
  retry: RetryOutcome;
  pause: PauseOutcome;
  resume: PauseOutcome;
  reload: ReloadOutcome;
}
export type Action = keyof AdminResults;
/** An action that ran, with what came of it (a union the answer's formatting can switch on). */
export type Done = { [A in Action]: { readonly action: A; readonly value: AdminResults[A] } }[Action];

export const ACTIONS = ["help", "links", "status", "retry", "pause", "resume", "reload"] as const satisfies readonly Action[];
/** The actions that name a link (status may, the others must). */
export const NEEDS_LINK: ReadonlySet<Action> = new Set<Action>(["retry", "pause", "resume"]);

export type Answer<A extends Action> =
  | { readonly ok: true; readonly value: AdminResults[A] }
  /** Not an admin: `refused` is what to tell them; `repeated` when they were told so within REFUSAL_QUIET_MS. */
  | { readonly ok: false; readonly refused: string; readonly repeated?: true }
  /** An admin asked for something that cannot be done (an unknown link): `error` says why. */
  | { readonly ok: false; readonly error: string };

/** Compares ids as their network does: JIDs case-insensitively (bare), Matrix ids exactly. */
export function sameActor(network: Network, a: string, b: string): boolean {
  return network === "xmpp" ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/**
 * A non-admin is told they are refused once in this long in one place (a room, a DM); refusals
 * there meanwhile are still logged but
 * `repeated`, and chat answers (admin-command.ts reply) say nothing: otherwise anyone who can DM
 * the bot makes it post one message per message they send, spending its rate on their spam.
 */
export const REFUSAL_QUIET_MS = 60_000;
/** People whose last refusal is remembered (the oldest forgotten first). */
const REMEMBERED_REFUSALS = 1000;

export class AdminDesk {
  readonly #admins: AdminList;
  readonly #steering: Steering;
  readonly #log: Logger;
  readonly #now: () => number;
  /** network + id + where → when they were last told there that they are refused. */
  readonly #told = new Map<string, number>();

  constructor(admins: AdminList | undefined, steering: Steering, log: Logger, now: () => number = Date.now) {
    this.#admins = admins ?? {};
    this.#steering = steering;
    this.#log = log;
    this.#now = now;
  }

  isAdmin(actor: Actor): boolean {
    return (this.#admins[actor.network] ?? []).some((id) => sameActor(actor.network, id, actor.id));
  }

  /** The link names, for a form's choices (only shown to admins). */
  linkNames(): string[] {
    return this.#steering.links().map((l) => l.name);
  }

  /**
   * Undefined for an admin; for anyone else the refusal to tell them, logged. For what is not a
   * command but is kept for admins all the same (a Matrix bot that joins a DM on an invite).
   */
  refusal(actor: Actor, what: string, link?: string): string | undefined {
    return this.refusalOf(actor, what, link)?.refused;
  }

  /** As refusal, and whether this person was already told within REFUSAL_QUIET_MS (`repeated`). */
  refusalOf(actor: Actor, what: string, link?: string): { refused: string; repeated?: true } | undefined {
    if (this.isAdmin(actor)) return undefined;
    // Per place: someone refused in the admin room has not been told so in their DM.
    const key = `${actor.network}\u0000${actor.network === "xmpp" ? actor.id.toLowerCase() : actor.id}\u0000${actor.via ?? ""}`;
    const now = this.#now();
    const last = this.#told.get(key);
    const repeated = last !== undefined && now - last < REFUSAL_QUIET_MS;
    this.#log.warn({ ...who(actor, what, link), outcome: "refused", ...(repeated ? { answered: false } : {}) }, `admin command refused: ${actor.id} is not an admin`);
    if (!repeated) {
      this.#told.delete(key);
      if (this.#told.size >= REMEMBERED_REFUSALS) this.#told.delete(this.#told.keys().next().value!);
      this.#told.set(key, now);
    }
    const refused = (this.#admins[actor.network] ?? []).length > 0
      ? `${actor.id} is not one of Junction's admins; ask an admin to add you to admin.${actor.network} in its config`
      : `Junction has no ${actor.network} admins configured (admin.${actor.network} in its config), so nobody may steer it from ${actor.network}`;
    return repeated ? { refused, repeated } : { refused };
  }

  async run<A extends Action>(actor: Actor, action: A, link?: string): Promise<Answer<A>> {
    const refusal = this.refusalOf(actor, action, link);
    if (refusal !== undefined) return { ok: false, ...refusal };
    const by = who(actor, action, link);
    try {
      const value = await this.#do(action, link, actor.id);
      this.#log.info({ ...by, outcome: summary(action, value) }, `admin command: ${action}${link !== undefined ? ` ${link}` : ""}`);
      return { ok: true, value };
    } catch (err) {
      const error = reasonOf(err);
      if (err instanceof UnknownLink) this.#log.info({ ...by, outcome: "error", error }, `admin command failed: ${action}`);
      else this.#log.error({ ...by, outcome: "error", err }, `admin command failed: ${action}`);
      return { ok: false, error };
    }
  }

  async #do<A extends Action>(action: A, link: string | undefined, by: string): Promise<AdminResults[A]> {
    const s = this.#steering;
    if (NEEDS_LINK.has(action) && (link === undefined || link === "")) throw new UnknownLink(`${action} needs a link name; the links are: ${this.linkNames().join(", ")}`);
    const l = link ?? "";
    const r: { [K in Action]: () => AdminResults[K] | Promise<AdminResults[K]> } = {
      help: () => undefined,
      links: () => s.links(),
      status: () => s.status(link === "" ? undefined : link),
      retry: () => s.retry(l),
      pause: () => s.pause(l, by),
      resume: () => s.resume(l),
      reload: () => s.reload(),
    };
    return r[action]() as AdminResults[A];
  }
}

/** Who asked for what, as every admin log line names it. */
function who(actor: Actor, action: string, link: string | undefined): Record<string, string> {
  return { admin: actor.id, network: actor.network, ...(actor.via ? { via: actor.via } : {}), action, ...(link !== undefined ? { link } : {}) };
}

/** What the log line says came of it (never the whole status, which may be long). */
function summary(action: Action, value: unknown): unknown {
  switch (action) {
    case "help": case "links": case "status": return "shown";
    default: return value;
  }
}
