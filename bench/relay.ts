/**
 * The do-nothing relay: the ceiling Junction is measured against. An XEP-0114 component that
 * listens in two MUCs as one occupant each and copies every groupchat body from room A into room B
 * through a puppet occupant of its own there (as Junction writes through the sender's puppet). It
 * also keeps an idle puppet occupant in room A, as Junction does for the person reading in room B
 * (Junction bridges both ways, so that person appears in room A): both rooms have the same
 * occupants, and the server the same fan-out, in both runs, and the relay receives (and drops)
 * the same copies Junction does. Nothing else: no store, no formatting, one puppet for everybody.
 * Whatever Junction costs on top of this is ours.
 *
 * Run directly (`node bench/relay.ts`) to start a Prosody, the relay, and print its numbers;
 * `node bench/relay.ts serve '<RelayOptions JSON>'` runs only the relay (see spawnRelay).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { component, xml } from "@xmpp/component";
import type { Element } from "@xmpp/xml";

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";

export interface RelayOptions {
  service: string; // "xmpp://127.0.0.1:<componentPort>"
  domain: string; // the component domain
  secret: string;
  roomA: string; // bare room JIDs
  roomB: string;
  nick?: string; // default "relay"
  puppetNick?: string; // the occupant in room B that writes; default "relay-puppet"
  readerNick?: string; // the idle occupant in room A (the reader in B, mirrored); default "relay-reader"
}

export interface Relay {
  /** How many messages it has copied so far. */
  readonly copied: number;
  stop(): Promise<void>;
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const nick = opts.nick ?? "relay";
  const puppetNick = opts.puppetNick ?? "relay-puppet";
  const me = `relay@${opts.domain}/bench`;
  const puppet = `puppet@${opts.domain}/bench`;
  const reader = `reader@${opts.domain}/bench`;
  const readerNick = opts.readerNick ?? "relay-reader";
  const entity = component({ service: opts.service, domain: opts.domain, password: opts.secret });
  entity.reconnect.stop();
  entity.on("error", () => {});
  entity.on("connect", () => entity.socket?.setNoDelay?.(true));
  const joined = new Map<string, () => void>();
  let copied = 0;

  entity.on("stanza", (stanza: Element) => {
    const from = stanza.attrs.from ?? "";
    const slash = from.indexOf("/");
    const room = slash < 0 ? from : from.slice(0, slash);
    const fromNick = slash < 0 ? "" : from.slice(slash + 1);
    const to = stanza.attrs.to ?? "";
    if (stanza.is("presence")) {
      const self = stanza.getChild("x", MUC_USER)?.getChildren("status").some((s) => s.attrs.code === "110");
      if (self) joined.get(`${to} ${room}`)?.();
      return;
    }
    // Room B's copies to the puppet and the listener, room A's to the reader, and our own:
    // parsed like Junction's, then dropped.
    if (to !== me || room !== opts.roomA) return;
    if (!stanza.is("message") || stanza.attrs.type !== "groupchat" || fromNick === nick) return;
    const body = stanza.getChildText("body");
    if (body === null || stanza.getChild("delay", "urn:xmpp:delay")) return;
    copied++;
    entity.send(xml("message", { type: "groupchat", to: opts.roomB, from: puppet }, xml("body", {}, body))).catch(() => {});
  });

  await entity.start();
  const occupants: [string, string, string][] = [[me, opts.roomA, nick], [me, opts.roomB, nick], [puppet, opts.roomB, puppetNick], [reader, opts.roomA, readerNick]];
  for (const [jid, room, as] of occupants) {
    const done = new Promise<void>((resolve, reject) => {
      joined.set(`${jid} ${room}`, resolve);
      setTimeout(() => reject(new Error(`relay: no self-presence from ${room}/${as} within 5 s`)), 5000).unref();
    });
    await entity.send(xml("presence", { to: `${room}/${as}`, from: jid }, xml("x", { xmlns: MUC }, xml("history", { maxstanzas: "0" }))));
    await done;
  }
  return {
    get copied() {
      return copied;
    },
    async stop() {
      await entity.stop().catch(() => {});
    },
  };
}

/**
 * The relay in its own Node process, as Junction would run: in the measuring process it would
 * share an event loop (and GC pauses) with the people it is measured by.
 */
export async function spawnRelay(opts: RelayOptions): Promise<{ readonly pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", JSON.stringify(opts)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the relay process exited (${code}) before it was ready`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function serve(json: string): Promise<void> {
  const relay = await startRelay(JSON.parse(json) as RelayOptions);
  process.stdout.write("ready\n");
  const quit = (): void => {
    relay.stop().finally(() => process.exit(0));
  };
  process.once("SIGTERM", quit);
  process.stdin.on("end", quit); // the parent went away
  process.stdin.resume();
}

async function main(): Promise<void> {
  const { startProsody } = await import("../test/harness/prosody.ts");
  const { measureThroughput, measureLatency } = await import("./xmpp-raw.ts");
  const prosody = await startProsody({ logLevel: "warn" });
  const roomA = `bench-a@${prosody.mucDomain}`;
  const roomB = `bench-b@${prosody.mucDomain}`;
  try {
    const hop = await measureThroughput({ prosody, roomA: `bench-hop@${prosody.mucDomain}`, roomB: `bench-hop@${prosody.mucDomain}`, count: 5000 });
    console.log(`one MUC hop, no relay: ${hop.perSecond.toFixed(0)} msg/s (${hop.received}/${hop.sent})`);
    const relay = await spawnRelay({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret, roomA, roomB });
    for (let i = 0; i < 3; i++) {
      const t = await measureThroughput({ prosody, roomA, roomB, count: 5000 });
      console.log(`relay throughput: ${t.perSecond.toFixed(0)} msg/s (${t.received}/${t.sent}, sending took ${t.sendMs.toFixed(0)} ms)`);
    }
    for (let i = 0; i < 2; i++) {
      const l = await measureLatency({ prosody, roomA, roomB, rate: 100, durationMs: 10_000 });
      console.log(`relay latency at ${l.rate} msg/s: p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(2)} ms (${l.received}/${l.sent})`);
    }
    await relay.stop();
  } finally {
    await prosody.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const run = process.argv[2] === "serve" ? serve(process.argv[3] ?? "{}") : main().then(() => process.exit(0));
  run.catch((err: Error) => {
    console.error(err);
    process.exit(1);
  });
}
