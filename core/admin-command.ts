/**
 * `!junction …`: the text form of the admin commands (core/admin.ts), one parser and one reply for
 * every network that takes them as chat messages (the Matrix admin room and DMs, the Discord admin
 * channel and DMs). The bridge decides where a command may be given and who sent it; this turns
 * the text into an action on the desk and the outcome into the words of core/admin-text.ts.
 */
import { ACTIONS, NEEDS_LINK, type Action, type Actor, type AdminDesk, type Answer, type Done } from "./admin.ts";
import { linksText, pauseText, reloadText, retryText, statusText } from "./admin-text.ts";

export const PREFIX = "!junction";

export const HELP = [
  "Junction admin commands:",
  "!junction help: this list",
  "!junction status [link]: the networks, and each link's rooms (joined, queued, last delivery and failure)",
  "!junction links: the links, paused or not, with their queued and failed deliveries",
  "!junction retry <link>: send a link's failed deliveries again",
  "!junction pause <link>: hold a link's deliveries (kept, not dropped) until resume",
  "!junction resume <link>: deliver what a pause held, in order",
  "!junction reload: read the config file again",
].join("\n");

export type Command = { action: Action; link?: string } | { unknown: string };

/** `!junction pause lobby` → its action and link; undefined when it is not a command at all. */
export function parseCommand(body: string): Command | undefined {
  const words = body.trim().split(/\s+/);
  if (words[0]?.toLowerCase() !== PREFIX) return undefined;
  const verb = (words[1] ?? "help").toLowerCase();
  const action = ACTIONS.find((a) => a === verb);
  if (!action) return { unknown: verb };
  return { action, ...(words[2] !== undefined ? { link: words[2] } : {}) };
}

export function answerText(action: Action, answer: Answer<Action>): string {
  if (!answer.ok) return "refused" in answer ? `Refused: ${answer.refused}.` : `${answer.error}.`;
  const done = { action, value: answer.value } as Done;
  switch (done.action) {
    case "help": return HELP;
    case "links": return linksText(done.value);
    case "status": return statusText(done.value);
    case "retry": return retryText(done.value);
    case "pause": case "resume": return pauseText(done.value);
    case "reload": return reloadText(done.value);
  }
}

/**
 * Runs a parsed command for this actor and says what came of it: a refusal for a non-admin
 * (logged by the desk; undefined, nothing to say, when they were told so moments ago), the list
 * of commands for an unknown one, the link names for a command that needs one, else the
 * action's answer.
 */
export async function reply(desk: AdminDesk, actor: Actor, command: Command): Promise<string | undefined> {
  if ("unknown" in command) {
    const refusal = desk.refusalOf(actor, command.unknown);
    if (refusal?.repeated) return undefined;
    return refusal !== undefined ? `Refused: ${refusal.refused}.` : `There is no command "${command.unknown}".\n${HELP}`;
  }
  if (NEEDS_LINK.has(command.action) && command.link === undefined && desk.isAdmin(actor)) {
    return `!junction ${command.action} needs a link: ${desk.linkNames().join(", ")}`;
  }
  const answer = await desk.run(actor, command.action, command.link);
  return !answer.ok && "refused" in answer && answer.repeated ? undefined : answerText(command.action, answer);
}
