/**
 * The XEP-0114 component stream: connect, authenticate, reconnect with capped backoff, send,
 * and IQ requests with their answers. A fresh Component per attempt keeps no state from a dead
 * stream. The socket is always read (Node never pauses it for us), so a server that stops
 * reading while its buffer to us is full (Prosody) can never deadlock with our writes.
 *
 * An IQ answer is taken only from the entity the request went to, under an id nobody can guess
 * (anyone can send us an iq result; only the addressee knows the id). A keepalive ping through
 * the server to our own domain finds a stream that is open but dead (half-open TCP).
 */
import { randomBytes } from "node:crypto";
import { Component } from "@xmpp/component-core";
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { Logger } from "pino";
import { NotReadyError } from "../../core/adapter.ts";
import { FailureReporter } from "./connect-failure.ts";
import { sanitizeStanza } from "./xml-safe.ts";
import { DeliveryError } from "../../core/errors.ts";
import { detachStanza } from "./detach.ts";

export interface ConnectionOptions {
  readonly service: string;
  readonly domain: string;
  readonly secret: string;
  /** Seconds between keepalive pings through the server; 0: none. */
  readonly keepaliveSeconds?: number;
}

export interface ConnectionEvents {
  online(): void;
  offline(): void;
  stanza(el: Element): void;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const IQ_TIMEOUT_MS = 15_000;
/** A keepalive not answered within this long means the stream is dead. */
const KEEPALIVE_TIMEOUT_MS = 10_000;

interface PendingIq {
  /** Whom the request went to: only they may answer it. */
  readonly to: string;
  resolve(el: Element): void;
  reject(err: Error): void;
  readonly timer: NodeJS.Timeout;
}

/** A full or bare JID in the form it compares by: domain and local part lower case, resource as is. */
function jidKey(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? jid.toLowerCase() : jid.slice(0, slash).toLowerCase() + jid.slice(slash);
}

export class XmppConnection {
  readonly #o: ConnectionOptions;
  readonly #log: Logger;
  readonly #on: ConnectionEvents;
  #entity: Component | undefined;
  #online = false;
  #stopped = false;
  #delay = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #lastReceived = 0;
  readonly #pendingIq = new Map<string, PendingIq>();
  readonly #failures: FailureReporter;
  /** The last stream error since the stream opened: said with "offline", not on its own. */
  #streamError: string | undefined;

  constructor(o: ConnectionOptions, log: Logger, on: ConnectionEvents) {
    this.#o = o;
    this.#log = log;
    this.#on = on;
    this.#failures = new FailureReporter(log);
  }

  /** Why the last attempt to connect failed, said for a person; undefined once connected. */
  get lastError(): string | undefined {
    return this.#failures.last;
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
    clearInterval(this.#keepalive);
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
    // 96 random bits: an answer under a guessed id is as good as impossible.
    const id = `jq-${randomBytes(12).toString("base64url")}`;
    iq.attrs.id = id;
    const to = iq.attrs.to ?? "";
    const answer = new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingIq.delete(id);
        reject(new IqTimeout(`no answer to iq ${id} to ${to} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pendingIq.set(id, { to: jidKey(to), resolve, reject, timer });
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
      // A refused handshake rejects start() below, which says what to check.
      entity.authenticate(el.attrs.id ?? "", this.#o.secret).catch((err: Error) => entity.emit("error", err));
    });
    // Said once, by the failed attempt (before it is online) or by "offline" (after).
    entity.on("error", (err: Error) => {
      this.#streamError = (err as { condition?: string }).condition ?? err.message;
      this.#log.debug({ err: err.message }, "XMPP stream error");
    });
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
      this.#failures.connected();
      this.#streamError = undefined;
      (entity.socket as { setNoDelay?(v: boolean): void } | null)?.setNoDelay?.(true);
      this.#online = true;
      this.#log.info({ service: this.#o.service, domain: this.#o.domain }, "XMPP component online");
      this.#startKeepalive(entity);
      this.#on.online();
    } catch (err) {
      this.#failures.failed(err as Error, { service: this.#o.service, domain: this.#o.domain }, this.#delay);
      this.#streamError = undefined;
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

  /**
   * Pings our own domain through the server: the server routes it back to us, we answer it
   * (iq.ts), and the answer comes back. No answer in time: the stream is dead though the socket
   * may look open, so it is dropped and the usual reconnect takes over.
   */
  #startKeepalive(entity: Component): void {
    clearInterval(this.#keepalive);
    const seconds = this.#o.keepaliveSeconds ?? 60;
    if (seconds <= 0) return;
    let inFlight = false;
    this.#keepalive = setInterval(() => {
      if (inFlight || this.#entity !== entity || !this.#online) return;
      // Traffic is proof of life; a ping only when the stream has been quiet.
      if (Date.now() - this.#lastReceived < seconds * 1000) return;
      inFlight = true;
      const sentAt = Date.now();
      const domain = this.#o.domain;
      const ping = xml("iq", { type: "get", from: domain, to: domain }, xml("ping", { xmlns: "urn:xmpp:ping" }));
      this.request(ping, Math.min(KEEPALIVE_TIMEOUT_MS, seconds * 1000))
        .catch((err: Error) => {
          if (!(err instanceof IqTimeout) || this.#entity !== entity) return;
          // Late behind a burst, not dead: something arrived meanwhile.
          if (this.#lastReceived >= sentAt) return;
          this.#log.warn({ service: this.#o.service, err: err.message }, "the XMPP server did not answer the keepalive; reconnecting");
          this.#drop(entity);
        })
        .finally(() => { inFlight = false; });
    }, seconds * 1000);
    this.#keepalive.unref();
  }

  /** Gives up a stream that no longer carries anything, and reconnects. */
  #drop(entity: Component): void {
    if (this.#entity !== entity) return;
    this.#entity = undefined;
    clearInterval(this.#keepalive);
    this.#setOffline();
    // A half-open socket may never finish a clean close: destroy it.
    (entity.socket as { destroy?(): void } | null)?.destroy?.();
    entity.stop().catch(() => undefined);
    this.#schedule();
  }

  #setOffline(): void {
    for (const [id, p] of this.#pendingIq) {
      clearTimeout(p.timer);
      p.reject(new NotReadyError(`the XMPP connection closed before iq ${id} was answered`));
    }
    this.#pendingIq.clear();
    if (!this.#online) return;
    this.#online = false;
    // Our own stop is no failure: said at info, without "reconnecting".
    if (this.#stopped) this.#log.info("XMPP component closed");
    else this.#log.warn({ ...(this.#streamError ? { err: this.#streamError } : {}) }, "XMPP component offline; reconnecting");
    this.#streamError = undefined;
    this.#on.offline();
  }

  #onStanza(el: Element): void {
    this.#lastReceived = Date.now();
    detachStanza(el); // what is remembered from it must not pin the socket chunk (see detach.ts)
    if (el.is("iq") && (el.attrs.type === "result" || el.attrs.type === "error") && el.attrs.id) {
      const p = this.#pendingIq.get(el.attrs.id);
      // Only the addressee answers: a result from anyone else (a spoofed upload slot, vCard or
      // archive fin) is not an answer; it goes to receive(), which never answers a result.
      if (p && jidKey(el.attrs.from ?? "") === p.to) {
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

export class IqTimeout extends Error {}

/** An IQ error answer, classified by its own `type` (RFC 6120 §8.3.2): only "wait" is worth a retry. */
export class IqError extends DeliveryError {
  readonly condition: string;
  constructor(readonly_el: Element) {
    const error = readonly_el.getChild("error");
    const condition = error?.getChildElements().find((c) => c.name !== "text")?.name ?? "undefined-condition";
    super(error?.attrs.type === "wait" ? "transient" : "permanent", `iq error: ${condition}`);
    this.condition = condition;
  }
}
