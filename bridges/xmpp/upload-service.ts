/**
 * Which XEP-0363 upload service the bridge uploads files to, and how large a file it takes. The
 * configured `xmpp.upload` when there is one; otherwise the XMPP server's own, found through
 * service discovery (XEP-0030) the way clients find it: the items of the component's parent
 * domain (bridge.example.org → example.org, which lists upload.example.org), and that domain
 * itself, asked for disco#info; the first that offers urn:xmpp:http:upload:0 is it. Its
 * max-file-size (XEP-0363 §3) is the limit: a larger file goes as a link instead.
 * Found once per connection (a reconnect may meet a changed server), and only from the entity we
 * asked (connection.ts checks who answers).
 */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { Logger } from "pino";
import { failureOf, NotReadyError } from "../../core/errors.ts";
import type { MediaScope } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import { filesScope, NS_UPLOAD, requestSlot } from "./slot.ts";
import { NS } from "./stanza.ts";

export { NS_UPLOAD } from "./slot.ts";
/** How long after a probe failure that may pass the service is asked for a slot again. */
const PROBE_AGAIN_MS = 60_000;
/** Items of the domain asked about at most: a server lists its components, a handful. */
const MAX_ITEMS = 20;

export interface UploadService {
  readonly jid: string;
  /** The largest file it takes, when it says (max-file-size). */
  readonly maxBytes?: number;
  /** Where it keeps files, from the GET URL of a slot it gave us (undefined: it gave none). */
  readonly files?: MediaScope;
}

/** The service a disco#info answer describes, if it is an upload service. */
export function uploadServiceOf(jid: string, info: Element): UploadService | undefined {
  const query = info.getChild("query", NS.discoInfo);
  if (!query?.getChildren("feature").some((f) => f.attrs.var === NS_UPLOAD)) return undefined;
  for (const form of query.getChildren("x", NS.dataForms)) {
    const fields = form.getChildren("field");
    if (fields.find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value") !== NS_UPLOAD) continue;
    const max = Number(fields.find((f) => f.attrs.var === "max-file-size")?.getChildText("value"));
    if (Number.isSafeInteger(max) && max > 0) return { jid, maxBytes: max };
  }
  return { jid };
}

/** The domain whose items name the server's services: the component's parent, if it has one. */
export function parentDomain(component: string): string | undefined {
  const dot = component.indexOf(".");
  const parent = dot > 0 ? component.slice(dot + 1) : "";
  return parent.includes(".") || parent === "localhost" ? parent : undefined;
}

/** A service JID of `domain` itself: the domain or one of its subdomains, no user, no resource. */
export function withinDomain(jid: string, domain: string): boolean {
  return !jid.includes("@") && !jid.includes("/") && (jid === domain || jid.endsWith(`.${domain}`));
}

export class UploadServices {
  readonly #conn: XmppConnection;
  readonly #from: string;
  readonly #component: string;
  readonly #configured: string | undefined;
  readonly #log: Logger;
  #found: Promise<UploadService | undefined> | undefined;
  /** When to ask for a slot again after a probe failure that may pass (files()). */
  #probeAgainAt: number | undefined;
  #toldNoFiles = false;
  /** The service as last found (for the media fetcher's scope); kept across a reconnect until found again. */
  known: UploadService | undefined;

  constructor(d: { conn: XmppConnection; from: string; component: string; configured?: string; log: Logger }) {
    this.#conn = d.conn;
    this.#from = d.from;
    this.#component = d.component;
    this.#configured = d.configured;
    this.#log = d.log;
  }

  /** A new stream: ask again on next need. */
  reset(): void {
    this.#found = undefined;
    this.#probeAgainAt = undefined;
    this.#toldNoFiles = false;
  }


  /** The service, or undefined when the server has none (files then go as links). */
  get(): Promise<UploadService | undefined> {
    this.#found ??= this.#discover().then((found) => (found ? this.#withFiles(found) : undefined)).then((s) => {
      this.known = s;
      if (s) this.#log.info({ service: s.jid, maxBytes: s.maxBytes, files: s.files ? `${s.files.host}${s.files.path}` : undefined }, this.#configured ? "XMPP upload service (configured)" : "XMPP upload service found through service discovery");
      else this.#log.info({ asked: parentDomain(this.#component) }, "no XMPP upload service found; files from other networks go to XMPP as links");
      return s;
    }, (err: unknown) => {
      this.#found = undefined; // a passing failure (offline, timeout): ask again next time
      throw err;
    });
    return this.#found;
  }

  /**
   * Where the service keeps files (slot.ts), asking it again after a probe failure that may pass
   * (a timeout, a `wait` error), at most once a minute; a refusal stays one for the connection.
   */
  async files(): Promise<MediaScope | undefined> {
    const s = await this.get().catch(() => undefined);
    if (!s || s.files || this.#probeAgainAt === undefined || Date.now() < this.#probeAgainAt) return s?.files;
    this.#probeAgainAt = undefined;
    const again = await this.#withFiles(s).catch(() => s);
    if (again.files && this.known === s) {
      this.known = again;
      this.#found = Promise.resolve(again);
    }
    return again.files;
  }

  /**
   * Asks the service for a slot it never gets a PUT for (an unused slot expires), to learn where
   * it keeps files from the slot's GET URL: people's uploads are then fetched from there, even
   * from a private address, and nothing else on that host. Without it nothing of the service's
   * is allowed that media.allowHosts does not allow (files on a private host reach the other
   * networks as links), said once with what to fix.
   */
  async #withFiles(service: UploadService): Promise<UploadService> {
    let reason: string;
    try {
      const slot = await requestSlot(this.#conn, this.#from, service.jid, { name: "junction-probe.txt", size: 1, mime: "text/plain" });
      const files = filesScope(slot.get);
      if (files) return { ...service, files };
      reason = `its slot's GET URL is not an http(s) URL Junction fetches from: ${slot.get.slice(0, 200)}`;
    } catch (err) {
      if (err instanceof NotReadyError) throw err;
      reason = (err as Error).message;
      if (failureOf(err) !== "permanent") this.#probeAgainAt = Date.now() + PROBE_AGAIN_MS;
    }
    // Said once per connection; a probe asked again (files()) that fails again only at debug.
    this.#log[this.#toldNoFiles ? "debug" : "warn"]({ service: service.jid, reason }, "where the XMPP upload service keeps files is not known (it gave Junction no usable slot): files XMPP people upload are fetched only from a public address or one media.allowHosts allows; let the component's domain upload (Prosody: http_file_share_access; ejabberd: mod_http_upload's access), or list the upload host");
    this.#toldNoFiles = true;
    return service;
  }

  async #discover(): Promise<UploadService | undefined> {
    if (this.#configured) {
      // Its limit, if it says; an answer that does not describe an upload service still leaves it configured.
      const info = await this.#info(this.#configured);
      return (info && uploadServiceOf(this.#configured, info)) ?? { jid: this.#configured };
    }
    const domain = parentDomain(this.#component);
    if (!domain) return undefined;
    const items = await this.#ask(xml("iq", { type: "get", from: this.#from, to: domain }, xml("query", { xmlns: NS.discoItems })));
    const jids = items?.getChild("query", NS.discoItems)?.getChildren("item").map((i) => i.attrs.jid as unknown) ?? [];
    // Only the server's own services: where its slot says it keeps files is fetched from even on a
    // private address (XmppAdapter.mediaScopes), so an item naming another domain (an IP, a
    // federated server's host) must not become one, whoever listed it.
    const candidates = [...new Set(jids.filter((j): j is string => typeof j === "string")
      .map((j) => j.toLowerCase()).filter((j) => withinDomain(j, domain)))].slice(0, MAX_ITEMS);
    const answers = await Promise.all([...candidates, domain].map(async (jid) => {
      const info = await this.#info(jid);
      return info && uploadServiceOf(jid, info);
    }));
    return answers.find((s) => s !== undefined);
  }

  #info(jid: string): Promise<Element | undefined> {
    return this.#ask(xml("iq", { type: "get", from: this.#from, to: jid }, xml("query", { xmlns: NS.discoInfo })));
  }

  /** An answer, or undefined for an error or no answer; being offline is not an answer (it waits). */
  async #ask(iq: Element): Promise<Element | undefined> {
    try {
      return await this.#conn.request(iq);
    } catch (err) {
      if (err instanceof NotReadyError) throw err;
      return undefined;
    }
  }
}
