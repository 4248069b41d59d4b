/**
 * The XEP-0114 component stream: connect, authenticate, reconnect with capped backoff, send,
 * and IQ requests with their answers. A fresh Component per attempt keeps no state from a dead
 * stream. The socket is always read (Node never pauses it for us), so a server that stops
 * reading while its buffer to us is full (Prosody) can never deadlock with our writes.
 */
import { Component } from "@xmpp/component-core";
import type { Element } from "@xmpp/xml";
import type { Logger } from "pino";
import { NotReadyError } from "../../core/adapter.ts";
import { sanitizeStanza } from "./xml-safe.ts";

export interface ConnectionOptions {
  readonly service: string;
  readonly domain: string;
  readonly secret: string;
}

export interface ConnectionEvents {
  online(): void;
  offline(): void;
  stanza(el: Element): void;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const IQ_TIMEOUT_MS = 15_000;

export class XmppConnection {
  readonly #o: ConnectionOptions;
  readonly #log: Logger;
  readonly #on: ConnectionEvents;
  #entity: Component | undefined;
  #online = false;
  #stopped = false;
  #delay = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #iqSeq = 0;
  readonly #pendingIq = new Map<string, { resolve(el: Element): void; reject(err: Error): void; timer: NodeJS.Timeout }>();

  constructor(o: ConnectionOptions, log: Logger, on: ConnectionEvents) {
    this.#o = o;
    this.#log = log;
    this.#on = on;
  }

  get online(): boolean {
    return this.#online;
  }

  /** Resolves after the first attempt; when it failed, attempts go on in the background. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#attempt();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const entity = this.#entity;
    this.#entity = undefined;
    this.#setOffline();
    if (entity) await entity.stop().catch(() => undefined);
  }

  async send(...stanzas: Element[]): Promise<void> {
    const entity = this.#entity;
    if (!entity || !this.#online) throw new NotReadyError("the XMPP component is not connected");
    try {
      await Promise.all(stanzas.map((s) => entity.send(sanitizeStanza(s))));
    } catch (err) {
      throw new NotReadyError(`writing to the XMPP server failed: ${(err as Error).message}`);
    }
  }

  /** Sends an IQ get/set and resolves with its result, or rejects with its error or a timeout. */
  async request(iq: Element, timeoutMs = IQ_TIMEOUT_MS): Promise<Element> {
    const id = iq.attrs.id ?? `jq-${++this.#iqSeq}-${Date.now().toString(36)}`;
    iq.attrs.id = id;
    const answer = new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingIq.delete(id);
        reject(new Error(`no answer to iq ${id} to ${iq.attrs.to} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pendingIq.set(id, { resolve, reject, timer });
    });
    try {
      await this.send(iq);
    } catch (err) {
      const p = this.#pendingIq.get(id);
      if (p) { clearTimeout(p.timer); this.#pendingIq.delete(id); }
      throw err;
    }
    return answer;
  }

  async #attempt(): Promise<void> {
    if (this.#stopped) return;
    const entity = new Component({ service: this.#o.service, domain: this.#o.domain });
    this.#entity = entity;
    entity.on("open", (el: Element) => {
      entity.authenticate(el.attrs.id ?? "", this.#o.secret).catch((err: Error) => {
        this.#log.error({ err: err.message }, "the XMPP server refused the component handshake: check xmpp.secret and xmpp.component against the server's component config");
        entity.emit("error", err);
      });
    });
    entity.on("error", (err: Error) => this.#log.warn({ err: err.message }, "XMPP stream error"));
    entity.on("stanza", (el: Element) => this.#onStanza(el));
    entity.on("disconnect", () => {
      if (this.#entity !== entity) return;
      this.#setOffline();
      this.#schedule();
    });
    try {
      await entity.start();
      if (this.#entity !== entity) return;
      this.#delay = BACKOFF_MIN_MS;
      (entity.socket as { setNoDelay?(v: boolean): void } | null)?.setNoDelay?.(true);
      this.#online = true;
      this.#log.info({ service: this.#o.service, domain: this.#o.domain }, "XMPP component online");
      this.#on.online();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, service: this.#o.service, retryInMs: this.#delay }, "XMPP component could not connect; retrying");
      if (this.#entity === entity) {
        await entity.disconnect(1000).catch(() => undefined);
        this.#setOffline();
        this.#schedule();
      }
    }
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, BACKOFF_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#attempt();
    }, delay);
  }

  #setOffline(): void {
    for (const [id, p] of this.#pendingIq) {
      clearTimeout(p.timer);
      p.reject(new NotReadyError(`the XMPP connection closed before iq ${id} was answered`));
    }
    this.#pendingIq.clear();
    if (!this.#online) return;
    this.#online = false;
    this.#log.warn("XMPP component offline");
    this.#on.offline();
  }

  #onStanza(el: Element): void {
    if (el.is("iq") && (el.attrs.type === "result" || el.attrs.type === "error") && el.attrs.id) {
      const p = this.#pendingIq.get(el.attrs.id);
      if (p) {
        clearTimeout(p.timer);
        this.#pendingIq.delete(el.attrs.id);
        if (el.attrs.type === "result") p.resolve(el);
        else p.reject(new IqError(el));
        return;
      }
    }
    try {
      this.#on.stanza(el);
    } catch (err) {
      this.#log.error({ err: (err as Error).message, stanza: el.toString().slice(0, 500) }, "handling a stanza failed; dropped");
    }
  }
}

export class IqError extends Error {
  readonly condition: string;
  constructor(readonly_el: Element) {
    const condition = readonly_el.getChild("error")?.getChildElements()[0]?.name ?? "undefined-condition";
    super(`iq error: ${condition}`);
    this.condition = condition;
  }
}
