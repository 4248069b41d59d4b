/**
 * The shape of junction.yaml, as one zod schema that also gives the TypeScript types. Every check
 * writes its own message ("expected …, got …") because a person fixes their file from it; the key
 * path and line are added by config/load.ts.
 */
import * as z from "zod";
import type { Network } from "../core/events.ts";
import { parseAllowEntry } from "../core/media/policy.ts";
import { count, fail, httpUrl, positive, rooms, secret, text, type Ctx } from "./fields.ts";
import {
  checkDiscordChannel, checkDiscordPerson, checkMatrixPerson, checkMatrixRoom, checkXmppPerson, checkXmppRoom, isHost, isServerName, normaliseXmppServer, parseHostPort, show,
} from "./values.ts";

/** Defaults of the xmpp keys that keep the bot in its rooms and bound a catch-up. */
export const XMPP_DEFAULTS = { catchUpMax: 1000, rejoinMaxSeconds: 300, selfPingSeconds: 300, keepaliveSeconds: 60 } as const;

const xmppSchema = z.strictObject({
  server: text("the XMPP server's component address like xmpp://127.0.0.1:5347").transform(
    (s, ctx) => normaliseXmppServer(s) ?? fail(ctx, `expected the XMPP server's component address like xmpp://127.0.0.1:5347, got ${show(s)}`),
  ),
  component: text("the component's domain like bridge.example.org").transform((s, ctx) => {
    const domain = s.toLowerCase();
    return isHost(domain) && !domain.startsWith("[") ? domain : fail(ctx, `expected the component's domain like bridge.example.org, got ${show(s)}`);
  }),
  secret: secret("the component's shared secret (as in the XMPP server's config)"),
  nick: text("the bridge bot's nickname in rooms").default("Junction"),
  upload: text("the JID of an HTTP upload service (XEP-0363) like upload.example.org")
    .transform((s, ctx) => {
      const jid = s.toLowerCase();
      const at = jid.indexOf("@");
      const ok = isHost(jid.slice(at + 1)) && !jid.includes("/") && (at === -1 || at > 0);
      return ok ? jid : fail(ctx, `expected the JID of an HTTP upload service (XEP-0363) like upload.example.org, got ${show(s)}`);
    })
    .optional(),
  history: count("how many old messages to bridge when a room is first linked (0 or more)", 0),
  catchUpMax: count("the most archived messages one catch-up bridges (0 or more)", XMPP_DEFAULTS.catchUpMax),
  rejoinMaxSeconds: count("the longest wait in seconds between the bot's attempts to rejoin a room", XMPP_DEFAULTS.rejoinMaxSeconds),
  selfPingSeconds: count("seconds between the bot's self-pings in each room (0: none)", XMPP_DEFAULTS.selfPingSeconds),
  keepaliveSeconds: count("seconds between keepalive pings through the XMPP server (0: none)", XMPP_DEFAULTS.keepaliveSeconds),
}, { error: (iss) => `expected the xmpp section (server, component, secret…), got ${show(iss.input)}` });

const matrixSchema = z.strictObject({
  homeserver: httpUrl("the homeserver's client API URL like http://127.0.0.1:8008"),
  domain: text("the homeserver's server name like example.org").refine(isServerName, {
    error: (iss) => `expected the homeserver's server name like example.org, got ${show(iss.input)}`,
  }),
  listen: text("the address the homeserver pushes events to, like 127.0.0.1:9000").transform(
    (s, ctx) => parseHostPort(s) ?? fail(ctx, `expected host:port like 127.0.0.1:9000, got ${show(s)}`),
  ),
  registration: text("the path of the appservice registration file, like ./registration.yaml"),
  ghostPrefix: text("a user id prefix like _junction_").default("_junction_").refine((s) => /^[a-z0-9_=\-/]+$/.test(s), {
    error: (iss) => `expected a user id prefix made of a-z, 0-9, _ = - / (like _junction_), got ${show(iss.input)}`,
  }),
  catchUp: count("how many events of a room to read back after an outage (0 or more)", 1000).optional(),
}, { error: (iss) => `expected the matrix section (homeserver, domain, listen, registration…), got ${show(iss.input)}` });

const discordSchema = z.strictObject({
  token: secret("the Discord bot token"),
  api: httpUrl("the Discord API base URL like https://discord.com/api").optional(),
  cdn: httpUrl("the Discord CDN base URL like https://cdn.discordapp.com").optional(),
  everyone: rooms(checkDiscordChannel),
  catchUp: count("how many missed messages per channel to fetch after an outage (0 or more)", 500),
}, { error: (iss) => `expected the discord section (token…), got ${show(iss.input)}` });

const httpSchema = z.strictObject({
  listen: text("the address Junction's HTTP server listens on, like 127.0.0.1:8080").transform(
    (s, ctx) => parseHostPort(s) ?? fail(ctx, `expected host:port like 127.0.0.1:8080, got ${show(s)}`),
  ),
  publicUrl: httpUrl("the public base URL of Junction's HTTP server, like https://junction.example.org"),
  adminToken: secret("a long random string that the status page, /metrics and /health ask for where publicUrl is public").optional(),
}, { error: (iss) => `expected the http section (listen, publicUrl, adminToken), got ${show(iss.input)}` });

const storeSchema = z.strictObject({
  path: text("a database file path or :memory:").default("./junction.db"),
  retentionDays: count("how many days to keep bridged messages' ids and excerpts and failed deliveries (0 keeps them forever)", 90),
}, { error: (iss) => `expected the store section (path, retentionDays), got ${show(iss.input)}` });

const deliverySchema = z.strictObject({
  maxAttempts: count("how many times a delivery that fails for a passing reason is tried before it is failed (1 or more)", 10)
    .refine((n) => n >= 1, { error: "expected how many times a delivery is tried (1 or more), got 0" }),
  maxAgeHours: count("how many hours a delivery that fails for a passing reason is retried before it is failed (1 or more)", 24)
    .refine((n) => n >= 1, { error: "expected how many hours a delivery is retried (1 or more), got 0" }),
  puppetsPerSecond: count("how many puppets or ghosts may be made per second in one room (1 or more)", 5)
    .refine((n) => n >= 1, { error: "expected how many puppets may be made per second (1 or more), got 0" }),
  joinsPerSecond: count("how many joins, leaves and profile changes one room may commit per second (1 or more)", 20)
    .refine((n) => n >= 1, { error: "expected how many joins one room may commit per second (1 or more), got 0" }),
}, { error: (iss) => `expected the delivery section (maxAttempts, maxAgeHours, puppetsPerSecond, joinsPerSecond), got ${show(iss.input)}` });

const allowHost = z.string({ error: (iss) => `expected a host name, host:port, IP address or CIDR, got ${show(iss.input)}` })
  .transform((s, ctx) => {
    const entry = parseAllowEntry(s);
    return "error" in entry ? fail(ctx, entry.error) : s.trim().toLowerCase();
  });

const mediaSchema = z.strictObject({
  allowHosts: z.array(allowHost, { error: (iss) => `expected a list of hosts (names, host:port, addresses or CIDRs), got ${show(iss.input)}` }).default([]),
  maxBytes: positive("the largest file to copy, in bytes (like 104857600 for 100 MiB)", 100 * 1024 * 1024),
  timeouts: z.strictObject({
    connect: positive("seconds to wait for a connection (1 or more)", 10),
    headers: positive("seconds to wait for an answer, and for each part of a file (1 or more)", 30),
    total: positive("seconds one whole download may take (1 or more)", 120),
  }, { error: (iss) => `expected the media.timeouts section (connect, headers, total), got ${show(iss.input)}` }).prefault({}),
}, { error: (iss) => `expected the media section (allowHosts, maxBytes, timeouts), got ${show(iss.input)}` });

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["auto", "pretty", "json"] as const;

const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS, {
    error: (iss) => `expected one of ${LOG_LEVELS.join(", ")}, got ${show(iss.input)}`,
  }).default("info"),
  format: z.enum(LOG_FORMATS, {
    error: (iss) => `expected one of ${LOG_FORMATS.join(", ")}, got ${show(iss.input)}`,
  }).default("auto"),
}, { error: (iss) => `expected the log section (level, format), got ${show(iss.input)}` });

const linkSchema = z.strictObject({
  xmpp: rooms(checkXmppRoom),
  matrix: rooms(checkMatrixRoom),
  discord: rooms(checkDiscordChannel),
}, { error: (iss) => `expected a link: a mapping of xmpp, matrix and/or discord rooms, got ${show(iss.input)}` });

const adminSchema = z.strictObject({
  xmpp: rooms(checkXmppPerson),
  matrix: rooms(checkMatrixPerson),
  matrixRoom: text(`the Matrix admin room, like #junction-admin:example.org or !roomid:example.org`).transform((s, ctx) => {
    const checked = checkMatrixRoom(s);
    return "room" in checked ? checked.room : fail(ctx, checked.error);
  }).optional(),
  discord: rooms(checkDiscordPerson),
  discordChannel: z.unknown().optional().transform((value, ctx) => {
    if (value === undefined || value === null) return undefined;
    const checked = checkDiscordChannel(value);
    return "room" in checked ? checked.room : fail(ctx, checked.error);
  }),
}, { error: (iss) => `expected the admin section (xmpp, matrix, matrixRoom, discord, discordChannel), got ${show(iss.input)}` });

const LINK_NETWORKS = ["xmpp", "matrix", "discord"] as const satisfies readonly Network[];
/** The admin section's rooms of their own: each needs its network, and is no room of a link. */
const ADMIN_ROOMS = [
  { network: "matrix", key: "matrixRoom", what: "Matrix admin room", noun: "admin room" },
  { network: "discord", key: "discordChannel", what: "Discord admin channel", noun: "admin channel" },
] as const;

export const configSchema = z
  .strictObject({
    xmpp: xmppSchema.optional(),
    matrix: matrixSchema.optional(),
    discord: discordSchema.optional(),
    http: httpSchema.optional(),
    store: storeSchema.prefault({}),
    delivery: deliverySchema.prefault({}),
    log: logSchema.prefault({}),
    media: mediaSchema.prefault({}),
    admin: adminSchema.optional(),
    links: z.record(z.string(), linkSchema, {
      error: (iss) => `expected a mapping of link names to rooms, got ${show(iss.input)}`,
    }).default({}),
  }, { error: (iss) => `expected a mapping with sections like xmpp, matrix and links, got ${show(iss.input)}` })
  // Runs even when a field above failed, so that every problem in the file is reported at once.
  .superRefine((config, ctx) => checkLinks(config as LooseConfig, ctx), { when: () => true });

export type Config = z.output<typeof configSchema>;
export type XmppConfig = NonNullable<Config["xmpp"]>;
export type MatrixConfig = NonNullable<Config["matrix"]>;
export type DiscordConfig = NonNullable<Config["discord"]>;
export type HttpConfig = NonNullable<Config["http"]>;
export type StoreConfig = Config["store"];
export type DeliveryConfig = Config["delivery"];
export type LogConfig = Config["log"];
export type MediaSectionConfig = Config["media"];
export type LinkConfig = Config["links"][string];
export type AdminConfig = Config["admin"];

/** What the cross-link check can rely on when other fields failed: possibly anything. */
type LooseConfig = Partial<Record<Network, unknown>> & { links?: Record<string, Partial<Record<Network, unknown>> | undefined> } | undefined;

function checkLinks(config: LooseConfig, ctx: Ctx): void {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return;
  if (!LINK_NETWORKS.some((n) => config[n] !== undefined)) {
    ctx.addIssue({ code: "custom", message: "no network is configured: add an xmpp and a matrix (or discord) section", path: [] });
  }
  const links = typeof config.links === "object" && config.links !== null ? config.links : {};
  const admin = (config as { admin?: Record<string, unknown> }).admin;
  for (const { network, key, what, noun } of ADMIN_ROOMS) {
    const adminRoom = typeof admin === "object" && admin !== null ? admin[key] : undefined;
    if (typeof adminRoom !== "string") continue;
    if (config[network] === undefined) {
      ctx.addIssue({ code: "custom", path: ["admin", key], message: `there is a ${what} but no ${network} section: add one or remove admin.${key}` });
    }
    for (const [name, link] of Object.entries(links)) {
      const list = link && Array.isArray(link[network]) ? (link[network] as unknown[]) : [];
      if (list.some((r) => typeof r === "string" && r.trim() === adminRoom.trim())) {
        ctx.addIssue({ code: "custom", path: ["admin", key], message: `the ${noun} is also in link "${name}": give the admin commands a room of their own` });
      }
    }
  }
  const owner = new Map<string, string>();
  for (const [name, link] of Object.entries(links)) {
    if (typeof link !== "object" || link === null) continue;
    let total = 0;
    for (const network of LINK_NETWORKS) {
      const list = Array.isArray(link[network]) ? (link[network] as string[]) : [];
      total += list.length;
      if (list.length > 0 && config[network] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["links", name, network],
          message: `this link has ${network} rooms but there is no ${network} section: add one (see config/example.yaml) or remove these rooms`,
        });
      }
      list.forEach((room, i) => {
        // The index is dropped for a single room, which may have been written as a plain string.
        const path = ["links", name, network, ...(list.length > 1 ? [i] : [])];
        const key = `${network}:${room}`;
        const first = owner.get(key);
        if (first === undefined) {
          owner.set(key, name);
        } else if (first === name) {
          ctx.addIssue({ code: "custom", path, message: `${show(room)} is listed twice in this link: remove one` });
        } else {
          ctx.addIssue({
            code: "custom",
            path,
            message: `${show(room)} is already in link "${first}": a room can be in only one link (merge the two links, or remove it from one)`,
          });
        }
      });
    }
    if (total < 2) {
      ctx.addIssue({
        code: "custom",
        path: ["links", name],
        message: `a link needs at least two rooms to join, found ${total === 0 ? "none" : "1"}`,
      });
    }
  }
}
