/**
 * A room's catch-up cursor: when the last message we saw was sent and, when the room gave one, its
 * stanza-id. The archive is read after that id (exact, no clock involved); the time serves the
 * join history (`since`) of rooms without an archive, and archives that no longer know the id.
 * Stored as JSON; a bare ISO time (older stores) still reads.
 */
export interface Cursor {
  readonly at: string;
  readonly id?: string;
}

export function parseCursor(value: string | undefined): Cursor | undefined {
  if (value === undefined || value === "") return undefined;
  if (!value.startsWith("{")) return Number.isNaN(Date.parse(value)) ? undefined : { at: value };
  try {
    const c = JSON.parse(value) as { at?: unknown; id?: unknown };
    if (typeof c.at !== "string" || Number.isNaN(Date.parse(c.at))) return undefined;
    return typeof c.id === "string" && c.id !== "" ? { at: c.at, id: c.id } : { at: c.at };
  } catch {
    return undefined;
  }
}

export function formatCursor(c: Cursor): string {
  return JSON.stringify(c.id ? { at: c.at, id: c.id } : { at: c.at });
}
