/**
 * Checks for single config values (rooms, domains, addresses) and how a wrong value is shown back
 * to the person who wrote it. Pure functions: the schema wraps them, tests call them directly.
 */

/** A value as a person would recognise it in their YAML: `"lobby"`, `the number 5`, `a list`. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string") {
    const text = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(text);
  }
  if (typeof value === "number" || typeof value === "bigint") return `the number ${value}`;
  if (typeof value === "boolean") return `${value}`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A DNS name (`conference.example.org`, `localhost`) or an IP literal (`127.0.0.1`, `[::1]`). */
export function isHost(host: string): boolean {
  if (host.startsWith("[") && host.endsWith("]")) return /^[0-9a-f:.]+$/i.test(host.slice(1, -1));
  if (host.length === 0 || host.length > 253) return false;
  return host.split(".").every((label) => LABEL.test(label));
}

/** A Matrix server name: a host with an optional port (`example.org`, `localhost:8448`). */
export function isServerName(name: string): boolean {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(name);
  return m !== null && isHost(m[1] ?? "") && (m[2] === undefined || Number(m[2]) <= 65535);
}

// RFC 7622 forbids these in a localpart; whitespace never makes sense in a room name either.
const JID_LOCAL_FORBIDDEN = /["&'/:<>@\s]/;

export const XMPP_ROOM_EXAMPLE = "room@conference.example.org";
export const MATRIX_ROOM_EXAMPLE = "#lobby:example.org or !roomid:example.org";
export const DISCORD_CHANNEL_EXAMPLE = "\"123456789012345678\"";

/** A MUC as a bare JID, lowercased; returns an error message (without the path) when it is not one. */
export function checkXmppRoom(value: unknown): { room: string } | { error: string } {
  if (typeof value !== "string") return { error: `expected a room JID like ${XMPP_ROOM_EXAMPLE}, got ${show(value)}` };
  const jid = value.trim().toLowerCase();
  const at = jid.indexOf("@");
  const local = jid.slice(0, Math.max(at, 0));
  const rest = jid.slice(at + 1);
  const [domain = "", resource] = rest.split("/", 2);
  if (at > 0 && resource !== undefined && !JID_LOCAL_FORBIDDEN.test(local) && isHost(domain)) {
    return { error: `expected a room JID like ${XMPP_ROOM_EXAMPLE} (without a /nick), got ${show(value)}` };
  }
  if (at <= 0 || JID_LOCAL_FORBIDDEN.test(local) || !isHost(domain) || resource !== undefined) {
    return { error: `expected a room JID like ${XMPP_ROOM_EXAMPLE}, got ${show(value)}` };
  }
  return { room: jid };
}

export const XMPP_ADMIN_EXAMPLE = "admin@example.org";
export const MATRIX_ADMIN_EXAMPLE = "@admin:example.org";

/** A person's bare JID (an admin), lowercased: local@domain, no resource. */
export function checkXmppPerson(value: unknown): { room: string } | { error: string } {
  const jid = typeof value === "string" ? value.trim().toLowerCase() : "";
  const at = jid.indexOf("@");
  const ok = at > 0 && !JID_LOCAL_FORBIDDEN.test(jid.slice(0, at)) && isHost(jid.slice(at + 1));
  if (!ok) {
    const resource = typeof value === "string" && value.includes("/") ? " (a bare JID, without /resource)" : "";
    return { error: `expected a bare JID like ${XMPP_ADMIN_EXAMPLE}${resource}, got ${show(value)}` };
  }
  return { room: jid };
}

/** A Matrix user id (an admin), kept as written (user ids compare exactly). */
export function checkMatrixPerson(value: unknown): { room: string } | { error: string } {
  const ok = typeof value === "string" && /^@[^:\s]+:(.+)$/.test(value) && isServerName(value.slice(value.indexOf(":") + 1));
  if (!ok) return { error: `expected a Matrix user id like ${MATRIX_ADMIN_EXAMPLE}, got ${show(value)}` };
  return { room: value };
}

/** A Matrix room alias or room id; kept as written (both are case-sensitive). */
export function checkMatrixRoom(value: unknown): { room: string } | { error: string } {
  const ok = typeof value === "string" && /^[#!][^:\s]+:(.+)$/.test(value) && isServerName(value.slice(value.indexOf(":") + 1));
  if (!ok) return { error: `expected a Matrix room like ${MATRIX_ROOM_EXAMPLE}, got ${show(value)}` };
  return { room: value };
}

/** A Discord channel snowflake, as a string: YAML reads 18 digits unquoted as an imprecise float. */
export function checkDiscordChannel(value: unknown): { room: string } | { error: string } {
  return checkSnowflake(value, "channel id", DISCORD_CHANNEL_EXAMPLE);
}

export const DISCORD_ADMIN_EXAMPLE = '"123456789012345678"';

/** A Discord user id (an admin): a snowflake like a channel id, compared exactly with the message author's. */
export function checkDiscordPerson(value: unknown): { room: string } | { error: string } {
  return checkSnowflake(value, "user id", DISCORD_ADMIN_EXAMPLE);
}

function checkSnowflake(value: unknown, what: string, example: string): { room: string } | { error: string } {
  if (typeof value === "number" || typeof value === "bigint") {
    return {
      error: `expected a ${what} as a quoted string like ${example}, got an unquoted number: ` +
        "put the id in quotes (YAML reads long numbers as floats and loses digits)",
    };
  }
  if (typeof value !== "string" || !/^\d{17,20}$/.test(value.trim())) {
    return { error: `expected a Discord ${what} (17 to 20 digits) like ${example}, got ${show(value)}` };
  }
  return { room: value.trim() };
}

/** `host:port` (`127.0.0.1:9000`, `[::1]:9000`) into its parts. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  if (!m || !isHost(m[1] ?? "")) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = (m[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

/** The XMPP server's component port as `xmpp://host:port`; a bare `host` or `host:port` is accepted. */
export function normaliseXmppServer(value: string): string | undefined {
  const text = value.trim();
  const withScheme = text.includes("://") ? text : `xmpp://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (url.protocol !== "xmpp:" || !isHost(url.hostname) || (url.pathname !== "" && url.pathname !== "/")) return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  return `xmpp://${url.hostname}:${url.port || "5347"}`;
}

/** Did the person mean one of the known keys? Edit distance at most 2, or a different case. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  // Short keys are too close to everything: "foo" is not a typo of "log".
  let bestDistance = key.length <= 4 ? 2 : 3;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
