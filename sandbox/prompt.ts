/**
 * The sandbox's Discord prompt: no Discord client can reach the emulator, so a person typed at
 * here stands in for one. A line typed is that person's message in the linked channel; what the
 * channel shows from anyone else (Junction's webhook puppets for XMPP and Matrix people) is printed.
 * A line starting with "!junction" goes to the person's DM with the bot instead (the admin
 * commands), and the bot's answers there are printed too.
 */
import { createInterface } from "node:readline";
import type { DiscordEmulator, Person } from "../test/discord-emulator/index.ts";

export interface PromptOptions {
  emu: DiscordEmulator;
  person: Person;
  channelId: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream & { isTTY?: boolean };
  /** Ctrl-C at the prompt (readline takes it from the terminal) or Ctrl-D: stop the sandbox. */
  onQuit: (why: "SIGINT" | "EOF") => void;
}

export function discordPrompt(o: PromptOptions): { close(): void } {
  const tty = o.output.isTTY === true && (o.input as { isTTY?: boolean }).isTTY === true;
  const rl = createInterface({ input: o.input, output: o.output, terminal: tty });
  rl.setPrompt(`${o.person.user.username} (Discord)> `);
  let closing = false;
  const print = (line: string): void => {
    if (tty) {
      o.output.write(`\r\x1b[K${line}\n`);
      rl.prompt(true);
    } else {
      o.output.write(`${line}\n`);
    }
  };
  const dm = o.emu.dmChannel(o.person.id).id;
  const onMessage = (m: { id: string; channelId: string; authorId: string }): void => {
    if ((m.channelId !== o.channelId && m.channelId !== dm) || m.authorId === o.person.id) return;
    const seen = o.emu.message(m.id);
    if (!seen) return;
    const files = seen.attachments.map((a) => ` [file: ${a.filename}]`).join("");
    print(`${seen.username}${m.channelId === dm ? " (DM)" : ""}: ${seen.content}${files}`);
  };
  o.emu.events.on("messageCreate", onMessage);
  rl.on("line", (line) => {
    const text = line.trim();
    if (/^!junction(\s|$)/i.test(text)) o.person.dm(text);
    else if (text) o.person.send(o.channelId, text);
    if (tty) rl.prompt();
  });
  rl.on("SIGINT", () => o.onQuit("SIGINT"));
  rl.on("close", () => {
    if (closing) return;
    if (tty) o.onQuit("EOF");
    else o.output.write("(standard input closed: the Discord prompt is off; Ctrl-C or SIGTERM stops the sandbox)\n");
  });
  if (tty) rl.prompt();
  return {
    close() {
      closing = true;
      o.emu.events.off("messageCreate", onMessage);
      rl.close();
    },
  };
}
