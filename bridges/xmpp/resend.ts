/**
 * Messages the room never reflected before the connection dropped: sent again after a reconnect
 * (same ids, in order), at most MAX_SENDS writes each, and given up with a log line and a failed
 * delivery after that or once too old.
 */
import type { Logger } from "pino";
import { PermanentDeliveryError, type AdapterHost } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import type { Puppets } from "./puppets.ts";
import type { RoomState } from "./rooms.ts";

/** Unconfirmed deliveries older than this are not sent again after a reconnect: stale by then. */
const RESEND_MAX_AGE_MS = 10 * 60_000;
/** Writes of one unconfirmed delivery, the first included; then given up (it may be what kills the stream). */
const MAX_SENDS = 3;

export interface ResendDeps {
  readonly log: Logger;
  readonly host: AdapterHost | undefined;
  readonly puppets: Puppets;
  readonly conn: XmppConnection;
}

/**
 * After a reconnect, and after the catch-up (which brings the reflections of what did get in):
 * what the room never reflected was lost with the old connection. Send it again, in order,
 * under the same ids, before anything newer.
 */
export async function resendUnconfirmed(rooms: readonly RoomState[], d: ResendDeps): Promise<void> {
  for (const state of rooms) {
    if (!state.botJoined) continue; // kept for the next successful join
    const { resend, givenUp } = state.unconfirmed.takeForResend(RESEND_MAX_AGE_MS, MAX_SENDS);
    for (const e of givenUp) {
      d.log.warn({ room: state.room, ids: e.ids, sends: e.sends, ageMs: Date.now() - e.at },
        e.sends >= MAX_SENDS
          ? "the room never confirmed a message sent this often (each time the stream went down after it); given up"
          : "an unconfirmed message is too old to send again; given up");
      // Recorded as failed in the outbox too, and forgotten as a copy in this room.
      for (const id of e.ids) d.host?.deliveryFailed(state.room, id, new PermanentDeliveryError(`${state.room} never confirmed the message (sent ${e.sends} times)`));
    }
    if (resend.length === 0) continue;
    d.log.info({ room: state.room, count: resend.length }, "sending again what the room never confirmed before the connection dropped");
    for (const { value: r, at, sends } of resend) {
      try {
        await d.puppets.ensureJoined(state, r.origin, r.sender, r.ctx);
        const ids = r.stanzas.map((st) => st.attrs.id).filter((id): id is string => typeof id === "string");
        for (const id of ids) state.sent(id); // a bounce of the resend is still ours
        state.unconfirmed.add(ids, r, at, sends + 1);
        await d.conn.send(...r.stanzas);
      } catch (err) {
        d.log.warn({ room: state.room, err: (err as Error).message }, "could not send an unconfirmed message again");
      }
    }
  }
}
