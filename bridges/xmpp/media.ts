/**
 * Media XMPP people share: files behind their OOB links (fetched through the core's media client,
 * under its address policy), and avatars, their vCard (XEP-0054) PHOTO, fetched over IQ on demand.
 */
import xml from "@xmpp/xml";
import type { Media, MediaHttpClient } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import { photoOfVcard } from "./iq.ts";
import { NS } from "./stanza.ts";

export async function fetchVcardPhoto(conn: XmppConnection, from: string, jid: string): Promise<Media> {
  const answer = await conn.request(xml("iq", { type: "get", from, to: jid }, xml("vCard", { xmlns: NS.vcard })));
  const photo = photoOfVcard(answer);
  if (!photo) throw new Error(`the vCard of ${jid} has no photo`);
  return photo;
}

/** An OOB link's file, named after the server's Content-Disposition or else the URL's last segment. */
export async function fetchLink(http: MediaHttpClient, url: string): Promise<Media> {
  const media = await http.get(url);
  if (media.name) return media;
  try {
    const name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
    return name ? { ...media, name } : media;
  } catch {
    return media; // a path that is not valid percent-encoding: no name
  }
}
