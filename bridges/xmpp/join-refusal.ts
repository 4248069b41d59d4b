/**
 * Why a room refused the bot's join, in the words of XEP-0045 §7.2 and what the room's admin or
 * the operator does about it. One place, so the log, the status page and /health say the same.
 */
const WHY: Record<string, string> = {
  "registration-required": "the room is members-only: turn members-only off, or make the bridge members (the bot is the component's domain, xmpp.component; each remote person is a JID in that domain and needs membership too)",
  "item-not-found": "the room is locked (its owner created it and has not configured it yet) or does not exist and cannot be created: ask its owner to configure it (Prosody: muc_room_locking = false on the MUC component lets the bot create usable rooms itself)",
  "forbidden": "the bot is banned from the room (affiliation outcast): lift the ban for the bridge's domain",
  "not-allowed": "the MUC service does not let the bot create the room (Prosody: restrict_room_creation): create it as a person first, or allow the bridge's domain",
  "not-authorized": "the room is password-protected: Junction cannot join rooms with a password; remove it",
  "service-unavailable": "the room is full (max occupants reached): raise its limit",
  "remote-server-timeout": "the room did not answer: is the MUC service up (the room's domain served by the same XMPP server, or reachable from it)?",
  "remote-server-not-found": "the room's domain does not exist or cannot be reached from the XMPP server: check the room's JID in the link",
};

export function joinRefusal(condition: string): string {
  return `the room refused the bot's join (${condition}): ${WHY[condition] ?? "check the room exists and lets the bridge's domain in"}`;
}
