/**
 * The appservice registration file that Synapse reads (app_service_config_files) and that the
 * bridge checks at start: its user namespace must be the ghosts' (ghostPrefix + domain), or
 * Synapse refuses to let the bridge create them.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Document, parse } from "yaml";
import type { MatrixConfig } from "../../config/schema.ts";

export interface Namespace {
  exclusive: boolean;
  regex: string;
}

/** The file's content; structurally an IAppserviceRegistration of matrix-bot-sdk. */
export interface Registration {
  id: string;
  url: string;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: { users: Namespace[]; aliases: Namespace[]; rooms: Namespace[] };
  rate_limited?: boolean;
  receive_ephemeral?: boolean;
  "de.sorunome.msc2409.push_ephemeral"?: boolean;
}

export class RegistrationError extends Error {
  override readonly name = "RegistrationError";
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The bridge bot's localpart: inside the ghost namespace, so the namespace covers it too. */
export const botLocalpart = (config: MatrixConfig) => `${config.ghostPrefix}bot`;

/**
 * No leading `^`: matrix-bot-sdk derives the ghost prefix from the text before `.*`. Synapse matches
 * from the start anyway, and the trailing `:domain$` keeps other servers' users out.
 */
export const userNamespaceRegex = (config: MatrixConfig) => `@${escapeRegex(config.ghostPrefix)}.*:${escapeRegex(config.domain)}$`;

/** Where the homeserver pushes transactions, unless told otherwise. */
export function defaultUrl(config: MatrixConfig): string {
  // A wildcard listen address is not somewhere a homeserver can connect to.
  const host = config.listen.host === "0.0.0.0" ? "127.0.0.1" : config.listen.host === "::" ? "::1" : config.listen.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.listen.port}`;
}

export function generateRegistration(config: MatrixConfig, opts: { url?: string } = {}): string {
  const registration: Registration = {
    id: "junction",
    url: opts.url ?? defaultUrl(config),
    as_token: randomBytes(32).toString("hex"),
    hs_token: randomBytes(32).toString("hex"),
    sender_localpart: botLocalpart(config),
    namespaces: {
      users: [{ exclusive: true, regex: userNamespaceRegex(config) }],
      aliases: [],
      rooms: [],
    },
    rate_limited: false,
    receive_ephemeral: true,
    "de.sorunome.msc2409.push_ephemeral": true,
  };
  const doc = new Document(registration);
  doc.commentBefore =
    " Junction's appservice registration, written by `junction matrix-registration`.\n" +
    " The tokens are secrets: keep this file private. Synapse reads it only at start.";
  return doc.toString();
}

/** Reads config.registration and checks that it matches the config; throws RegistrationError. */
export function loadRegistration(config: MatrixConfig): Registration {
  const file = config.registration;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(err as Error).message})`;
    throw new RegistrationError(
      `${file} ${why}: run \`junction matrix-registration --config FILE\` to write it, ` +
        "then add it to app_service_config_files in Synapse's homeserver.yaml and restart Synapse",
    );
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new RegistrationError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const problems = checkRegistration(data, config);
  if (problems.length > 0) throw new RegistrationError(problems.map((p) => `${file}: ${p}`).join("\n"));
  return data as Registration;
}

/** What is wrong with a registration for this config: one sentence per field, with the fix. */
export function checkRegistration(data: unknown, config: MatrixConfig): string[] {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return ["expected an appservice registration (a YAML mapping): regenerate it with `junction matrix-registration --config FILE --force`"];
  }
  const reg = data as Record<string, unknown>;
  const problems: string[] = [];
  const restart = "(then restart Synapse)";
  for (const key of ["id", "as_token", "hs_token"] as const) {
    if (typeof reg[key] !== "string" || reg[key] === "") problems.push(`${key}: must be a non-empty string (Synapse requires it); regenerate the file with --force`);
  }
  if (typeof reg.url !== "string" || !/^https?:\/\//.test(reg.url)) {
    problems.push(`url: must be where Junction listens, like "${defaultUrl(config)}"; set it ${restart}`);
  }
  const bot = botLocalpart(config);
  if (reg.sender_localpart !== bot) {
    problems.push(
      `sender_localpart: is ${JSON.stringify(reg.sender_localpart)} but matrix.ghostPrefix "${config.ghostPrefix}" needs "${bot}"; ` +
        `set it to "${bot}" ${restart}, or change ghostPrefix to match`,
    );
  }
  const namespaces = (typeof reg.namespaces === "object" && reg.namespaces !== null ? reg.namespaces : {}) as Record<string, unknown>;
  const want = userNamespaceRegex(config);
  const users = namespaces.users;
  if (!Array.isArray(users) || users.length !== 1) {
    problems.push(`namespaces.users: must hold exactly one entry { exclusive: true, regex: ${JSON.stringify(want)} } ${restart}`);
  } else {
    const entry = users[0] as Record<string, unknown> | null;
    if (entry?.exclusive !== true) problems.push(`namespaces.users[0].exclusive: must be true, so that nobody else can register ghost ids ${restart}`);
    if (typeof entry?.regex !== "string" || !coversGhosts(entry.regex, config)) {
      problems.push(
        `namespaces.users[0].regex: is ${JSON.stringify(entry?.regex)} but matrix.ghostPrefix "${config.ghostPrefix}" and ` +
          `matrix.domain "${config.domain}" need ${JSON.stringify(want)}; set it to that ${restart}`,
      );
    }
  }
  for (const kind of ["aliases", "rooms"] as const) {
    const list = namespaces[kind];
    if (list === undefined) continue;
    const ok = Array.isArray(list) && list.every((e) => typeof e?.regex === "string" && typeof e?.exclusive === "boolean");
    if (!ok) problems.push(`namespaces.${kind}: must be a list of { exclusive: true|false, regex: "..." } (Synapse refuses anything else); [] is fine`);
  }
  return problems;
}

/** Settings that work but cost something; worth a warning in the log at start. */
export function registrationWarnings(reg: Registration): string[] {
  const warnings: string[] = [];
  if (reg.rate_limited !== false) warnings.push("rate_limited is not false: Synapse will rate-limit the ghosts; set rate_limited: false");
  if (reg.receive_ephemeral !== true && reg["de.sorunome.msc2409.push_ephemeral"] !== true) {
    warnings.push("receive_ephemeral is not true: typing, read receipts and presence from Matrix will not be bridged");
  }
  return warnings;
}

/** The regex must take in our ghosts and bot, keep out others, and give matrix-bot-sdk the prefix. */
function coversGhosts(source: string, config: MatrixConfig): boolean {
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch {
    return false;
  }
  const prefix = `@${config.ghostPrefix}`;
  const derived = source.split(":")[0] ?? "";
  return (
    regex.test(`${prefix}xmpp_alice:${config.domain}`) &&
    regex.test(`@${botLocalpart(config)}:${config.domain}`) &&
    !regex.test(`@alice:${config.domain}`) &&
    !regex.test(`${prefix}alice:${config.domain}.example`) &&
    derived.replace(/\.[*+]$/, "") === prefix
  );
}
