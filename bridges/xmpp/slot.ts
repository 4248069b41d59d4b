/**
 * XEP-0363 upload slots: asking our upload service for one, and what a slot's GET URL says about
 * where the service keeps files (the scope in which people's uploads are fetched even from a
 * private address: its HTTP host and port, and the path its files are under).
 */
import xml from "@xmpp/xml";
import type { MediaScope } from "../../core/adapter.ts";
import { refusedRange, unbracket } from "../../core/media/policy.ts";
import type { XmppConnection } from "./connection.ts";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";

/** Only these headers may be copied from the slot into the PUT (XEP-0363 §5). */
const ALLOWED_HEADERS = new Set(["authorization", "cookie", "expires"]);

export interface Slot {
  readonly put: string;
  readonly get: string;
  /** For the PUT: the content type and the headers the slot allows. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A slot from `service` (the PUT goes wherever it says, so only that service's answer counts). */
export async function requestSlot(conn: XmppConnection, from: string, service: string, file: { name: string; size: number; mime: string }): Promise<Slot> {
  const filename = file.name.replace(/[/\\\u0000-\u001f]/g, "_") || "file";
  const answer = await conn.request(xml("iq", { type: "get", from, to: service },
    xml("request", { xmlns: NS_UPLOAD, filename, size: file.size, "content-type": file.mime })));
  if ((answer.attrs.from ?? "").toLowerCase() !== service) throw new Error(`an upload slot answered by ${answer.attrs.from} instead of ${service}; ignored`);
  const slot = answer.getChild("slot", NS_UPLOAD);
  const putEl = slot?.getChild("put");
  const put = putEl?.attrs.url;
  const get = slot?.getChild("get")?.attrs.url;
  if (typeof put !== "string" || typeof get !== "string" || !put || !get) throw new Error(`the upload service ${service} answered without a put/get URL`);
  const headers: Record<string, string> = { "content-type": file.mime };
  for (const h of putEl!.getChildren("header")) {
    const n = h.attrs.name?.toLowerCase();
    if (n && ALLOWED_HEADERS.has(n)) headers[n] = h.getText().replace(/[\r\n]/g, "");
  }
  return { put, get, headers };
}

/**
 * Where a service whose slot has this GET URL keeps its files: the URL's host and port, and its
 * path without the slot's own last two segments (`<id>/<name>`) and without a per-person
 * directory (ejabberd's, a SHA-1 or SHA-256 in hex): Prosody's `/file_share/<id>/<name>` (under
 * http_external_url's path, if it has one) and mod_http_upload's `/upload/<id>/<name>`, ejabberd's
 * `/upload/<person>/<id>/<name>`, so every person's files, not only ours. Undefined for a URL
 * that is not http(s), or whose host is a link-local address (a cloud's metadata service is never
 * a file service, whatever a slot says).
 */
export function filesScope(getUrl: string): MediaScope | undefined {
  let url: URL;
  try {
    url = new URL(getUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  const range = /^[\d.]+$|^\[/.test(url.hostname) ? refusedRange(unbracket(url.hostname)) : undefined;
  if (range?.endsWith("linkLocal")) return undefined;
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const dirs = url.pathname.split("/").filter(Boolean).slice(0, -2);
  if (dirs.length > 1 && /^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(dirs[dirs.length - 1]!)) dirs.pop();
  return { host: `${url.hostname}:${port}`, path: dirs.length > 0 ? `/${dirs.join("/")}/` : "/" };
}
