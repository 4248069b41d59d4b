/**
 * The emulated CDN (`emulator.cdn`): avatars, guild member avatars, emoji, stickers and
 * attachments from State.cdn. Attachment URLs carry Discord's signed expiry (`ex` = expiry,
 * `is` = issued, both hex Unix seconds, `hm` = an HMAC of path and both): a URL past its `ex`,
 * or with a changed signature, is answered 404 like Discord's "This content is no longer available."
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { State } from "./state.ts";

export interface CdnSigner { base: string; secret: Buffer; ttlMs: number }

function mac(secret: Buffer, path: string, ex: string, is: string): string {
  return createHmac("sha256", secret).update(`${path}|${ex}|${is}`).digest("hex");
}

/** The URL of a stored attachment, valid for signer.ttlMs from now. */
export function attachmentUrl(signer: CdnSigner, path: string, now = Date.now()): string {
  const is = Math.floor(now / 1000).toString(16);
  const ex = Math.floor((now + signer.ttlMs) / 1000).toString(16);
  return `${signer.base}/${path}?ex=${ex}&is=${is}&hm=${mac(signer.secret, path, ex, is)}&`;
}

function validSignature(signer: CdnSigner, path: string, q: URLSearchParams): boolean {
  const ex = q.get("ex"), is = q.get("is"), hm = q.get("hm");
  if (!ex || !is || !hm || !/^[0-9a-f]+$/.test(ex)) return false;
  const want = Buffer.from(mac(signer.secret, path, ex, is));
  const got = Buffer.from(hm);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
  return parseInt(ex, 16) * 1000 > Date.now();
}

/** Answers a request under /cdn/; `path` is the part after /cdn/. */
export function serveCdn(state: State, signer: CdnSigner, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
  const gone = (): void => {
    res.writeHead(404, { "content-type": "text/plain" }).end("This content is no longer available.");
  };
  if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405).end(); return; }
  let key = decodeURIComponent(path);
  if (key.startsWith("attachments/")) {
    if (!validSignature(signer, key, query)) { gone(); return; }
  } else {
    // Images are asked for with any of Discord's extensions (and a ?size=); one copy is kept.
    const stem = key.replace(/\.(webp|jpg|jpeg|gif|png|json)$/, "");
    key = [".png", ".gif", ".json"].map((ext) => stem + ext).find((k) => state.cdn.has(k)) ?? key;
  }
  const file = state.cdn.get(key);
  if (!file) { gone(); return; }
  res.writeHead(200, { "content-type": file.contentType, "content-length": file.bytes.length });
  res.end(req.method === "HEAD" ? undefined : file.bytes);
}
