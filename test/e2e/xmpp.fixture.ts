/**
 * A small Prosody + two XMPP persons for the XMPP bridge's own end-to-end tests, used until (and
 * unless) the shared test/harness/prosody.ts covers the same. Loopback only.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client, xml } from "@xmpp/client";
import type { Entity } from "@xmpp/xmpp-entity";
import type { Element } from "@xmpp/xml";
import { findExecutable } from "../harness/executables.ts";
import { freePorts } from "../harness/ports.ts";
import { ServerProcess, removeTempDir, trackTempDir } from "../harness/process.ts";
import { prosodyConfig, type ProsodyLayout } from "../harness/prosody-config.ts";

export interface TestProsody {
  readonly layout: ProsodyLayout;
  readonly configFile: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  register(user: string, password: string): void;
}

export async function startTestProsody(): Promise<TestProsody> {
  const prosody = findExecutable("prosody");
  if (!prosody) throw new Error("prosody is not installed: apt-get install prosody (the XMPP end-to-end tests need it)");
  const dir = mkdtempSync(join(tmpdir(), "junction-xmpp-"));
  trackTempDir(dir);
  const [c2sPort, componentPort] = await freePorts(2);
  const layout: ProsodyLayout = {
    dir, dataDir: join(dir, "data"), host: "localhost", mucDomain: "conference.localhost",
    componentDomain: "bridge.localhost", componentSecret: "s3cret", c2sPort: c2sPort!, componentPort: componentPort!,
    logLevel: "info",
    // @xmpp/client 0.13 pairs with sasl-scram-sha-1 1.3, whose responses became promises: its SCRAM
    // sends an empty response (malformed-request). PLAIN over loopback is fine for tests.
    extraGlobalConfig: `disable_sasl_mechanisms = { "SCRAM-SHA-1" }`,
  };
  mkdirSync(layout.dataDir, { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const configFile = join(dir, "prosody.cfg.lua");
  writeFileSync(configFile, prosodyConfig(layout));
  let proc: ServerProcess | undefined;
  const start = async () => {
    proc = new ServerProcess({ name: "prosody", command: prosody, args: ["--config", configFile, "-F"], cwd: dir, logFile: join(dir, "stdout.log") });
    await waitForPort(c2sPort!);
    await waitForPort(componentPort!);
  };
  await start();
  return {
    layout, configFile,
    async restart() { await proc?.stop(); await start(); },
    async stop() { await proc?.stop(); removeTempDir(dir); },
    register(user, password) {
      execFileSync("prosodyctl", ["--config", configFile, "register", user, layout.host, password], { stdio: "ignore" });
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import("node:net");
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: "127.0.0.1" }, () => { s.end(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** A real XMPP client in one room, recording what it hears. */
export class Person {
  readonly xmpp: Entity;
  readonly nick: string;
  readonly room: string;
  readonly heard: Element[] = [];
  #listeners: ((el: Element) => void)[] = [];

  constructor(p: TestProsody, user: string, room: string, nick = user) {
    this.nick = nick;
    this.room = room;
    this.xmpp = client({ service: `xmpp://127.0.0.1:${p.layout.c2sPort}`, domain: p.layout.host, username: user, password: "pw", resource: "test" });
    this.xmpp.on("error", () => undefined);
    this.xmpp.on("stanza", (el: Element) => {
      this.heard.push(el);
      for (const l of this.#listeners) l(el);
    });
  }

  async join(): Promise<void> {
    await this.xmpp.start();
    const joined = this.waitFor((el) => el.is("presence") && el.attrs.from === `${this.room}/${this.nick}`);
    await this.xmpp.send(xml("presence", { to: `${this.room}/${this.nick}` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxchars: 0 }))));
    await joined;
  }

  async say(body: string, ...extra: Element[]): Promise<string> {
    const id = `p-${Math.random().toString(36).slice(2)}`;
    await this.xmpp.send(xml("message", { type: "groupchat", to: this.room, id }, xml("body", {}, body), ...extra));
    return id;
  }

  async send(...children: Element[]): Promise<string> {
    const id = `p-${Math.random().toString(36).slice(2)}`;
    await this.xmpp.send(xml("message", { type: "groupchat", to: this.room, id }, ...children));
    return id;
  }

  /** Resolves with the first stanza (already heard or yet to come) that matches. */
  waitFor(match: (el: Element) => boolean, timeoutMs = 10_000, from = 0): Promise<Element> {
    const seen = this.heard.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        reject(new Error(`${this.nick} did not hear the expected stanza within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (el: Element) => {
        if (!match(el)) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        resolve(el);
      };
      this.#listeners.push(listener);
    });
  }

  messages(): Element[] {
    return this.heard.filter((el) => el.is("message") && el.attrs.type === "groupchat" && el.getChild("body"));
  }

  async stop(): Promise<void> {
    await this.xmpp.stop().catch(() => undefined);
  }
}
