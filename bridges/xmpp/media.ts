/** Avatars of XMPP occupants: their vCard (XEP-0054) PHOTO, fetched over IQ on demand. */
import xml from "@xmpp/xml";
import type { Media } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import { photoOfVcard } from "./iq.ts";
import { NS } from "./stanza.ts";

export async function fetchVcardPhoto(conn: XmppConnection, from: string, jid: string): Promise<Media> {
  const answer = await conn.request(xml("iq", { type: "get", from, to: jid }, xml("vCard", { xmlns: NS.vcard })));
  const photo = photoOfVcard(answer);
  if (!photo) throw new Error(`the vCard of ${jid} has no photo`);
  return photo;
}
