/** The few Matrix wire shapes the bridge reads. Everything from the network is `unknown` until checked. */

export interface RoomEvent {
  readonly type: string;
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly origin_server_ts: number;
  readonly content: Record<string, unknown>;
  readonly state_key?: string;
  /** Redactions in room versions before 11 carry the target here; v11+ moved it into `content`. */
  readonly redacts?: string;
  readonly unsigned?: Record<string, unknown>;
}

export interface EphemeralEvent {
  readonly type: string;
  readonly room_id?: string;
  readonly sender?: string;
  readonly content: Record<string, unknown>;
}

/** The body of `PUT /_matrix/app/v1/transactions/{txnId}`. */
export interface Transaction {
  readonly events: readonly RoomEvent[];
  readonly ephemeral: readonly EphemeralEvent[];
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function str(x: unknown): string | undefined {
  return typeof x === "string" ? x : undefined;
}

export function num(x: unknown): number | undefined {
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

export function isRoomEvent(x: unknown): x is RoomEvent {
  return isObject(x) && typeof x.type === "string" && typeof x.event_id === "string" &&
    typeof x.room_id === "string" && typeof x.sender === "string" && isObject(x.content);
}

/** The spec's limit on a whole event (65,536 bytes of canonical JSON); no homeserver accepts more. */
export const MAX_EVENT_BYTES = 65_536;

/**
 * A room event as the bridge may read it, or undefined: the required fields with their types,
 * optional ones dropped when they have the wrong type, and nothing larger than an event can be.
 */
export function toRoomEvent(x: unknown): RoomEvent | undefined {
  if (!isRoomEvent(x)) return undefined;
  if (x.type.length > 255 || x.event_id.length > 255 || x.room_id.length > 255 || x.sender.length > 255) return undefined;
  let size: number;
  try {
    size = JSON.stringify(x.content).length;
  } catch {
    return undefined; // nested past what a stack can walk: not an event any homeserver sent
  }
  if (size > MAX_EVENT_BYTES) return undefined;
  const stateKey = typeof x.state_key === "string" ? x.state_key : undefined;
  const redacts = typeof x.redacts === "string" ? x.redacts : undefined;
  return {
    type: x.type, event_id: x.event_id, room_id: x.room_id, sender: x.sender, content: x.content,
    origin_server_ts: num(x.origin_server_ts) ?? Date.now(),
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
    ...(redacts !== undefined ? { redacts } : {}),
    ...(isObject(x.unsigned) ? { unsigned: x.unsigned } : {}),
  };
}

export function isEphemeralEvent(x: unknown): x is EphemeralEvent {
  return isObject(x) && typeof x.type === "string" && isObject(x.content);
}

/** Reads a transaction body; malformed entries are skipped, not fatal (the rest still bridges). */
export function parseTransaction(body: unknown): Transaction {
  if (!isObject(body)) return { events: [], ephemeral: [] };
  const events = Array.isArray(body.events)
    ? body.events.map(toRoomEvent).filter((e): e is RoomEvent => e !== undefined)
    : [];
  // A homeserver may send the stable and the MSC2409 key with the same events: read one, stable first.
  const raw = Array.isArray(body.ephemeral) ? body.ephemeral : body["de.sorunome.msc2409.ephemeral"];
  const eph = Array.isArray(raw) ? raw.filter(isEphemeralEvent) : [];
  return { events, ephemeral: eph };
}
