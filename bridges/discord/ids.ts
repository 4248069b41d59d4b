/**
 * Discord ids and names: snowflakes, the actor ids this bridge emits, and the one function that
 * turns a person's name into a webhook username Discord accepts.
 */
import { actorId, type ActorId, type Network } from "../../core/events.ts";

export const isSnowflake = (s: unknown): s is string => typeof s === "string" && /^\d{17,20}$/.test(s);

/** Orders snowflakes (they are 64-bit numbers: compare as BigInt, not as strings or floats). */
export const compareSnowflakes = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Another application's webhook speaks under any name it likes: each name it uses is a puppet of
 * its own, so a CI bot's "build" and "deploy" do not merge into one person elsewhere.
 */
export function foreignWebhookActor(webhookId: string, username: string): ActorId {
  return actorId(`webhook:${webhookId}:${username}`);
}

/** The jump link Discord clients open at a message. */
export const jumpLink = (guildId: string, channelId: string, messageId: string): string =>
  `https://discord.com/channels/${guildId}/${channelId}/${messageId}`;

const MAX_NAME = 80;
/** Words Discord refuses anywhere in a webhook username (case-insensitive), with a look-alike that it takes. */
const REFUSED: readonly [RegExp, (m: string) => string][] = [
  [/discord/gi, (m) => m.replace(/o/i, (o) => (o === "o" ? "\u043e" : "\u041e"))], // Cyrillic о
  [/clyde/gi, (m) => m.replace(/e/i, (e) => (e === "e" ? "\u0435" : "\u0415"))], // Cyrillic е
];
/** Names Discord refuses as a whole. */
const RESERVED = new Set(["everyone", "here"]);

const codePoints = (s: string): string[] => [...s];

/**
 * A webhook username Discord accepts for `name` (its rules: NFC, 1 to 80 characters, never
 * containing "discord" or "clyde", never "everyone" or "here"). `suffix` tells two people apart
 * who would otherwise show the same name; it survives truncation.
 */
export function webhookUsername(name: string, suffix = ""): string {
  let flat = name.normalize("NFC")
    // Control and format characters (zero-width joiners aside) and line breaks make no sense in a name.
    .replace(/[\p{Cc}\p{Zl}\p{Zp}\u200b\u2060\ufeff]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  for (const [re, fix] of REFUSED) flat = flat.replace(re, fix);
  if (flat === "") flat = "someone";
  const tail = suffix ? ` ${suffix}` : "";
  let chars = codePoints(flat);
  const room = MAX_NAME - codePoints(tail).length;
  if (chars.length > room) chars = [...chars.slice(0, room - 1), "…"];
  let out = (chars.join("").trim() + tail).normalize("NFC");
  if (RESERVED.has(out.toLowerCase())) out = `${out} (bridged)`;
  return out;
}

/**
 * The names shown in one channel, so that two people never show the same one. The first to
 * claim a name keeps it; the next gets its network as a suffix, then a number.
 */
export class ChannelNames {
  readonly #byName = new Map<string, string>();
  readonly #byActor = new Map<string, string>();

  /** Restores a name shown before (from the puppet directory). */
  restore(actorKey: string, shown: string): void {
    if (this.#byName.has(shown.toLowerCase())) return;
    this.#byName.set(shown.toLowerCase(), actorKey);
    this.#byActor.set(actorKey, shown);
  }

  /** The name `actorKey` (network + actor) shows as `name`, free of clashes with everyone else's. */
  claim(actorKey: string, origin: Network, name: string): string {
    const candidates = [webhookUsername(name), webhookUsername(name, `(${origin})`)];
    for (let n = 2; n < 100; n++) candidates.push(webhookUsername(name, `(${origin} ${n})`));
    const current = this.#byActor.get(actorKey);
    for (const c of candidates) {
      const holder = this.#byName.get(c.toLowerCase());
      if (holder !== undefined && holder !== actorKey) continue;
      if (current !== undefined && current !== c) this.#byName.delete(current.toLowerCase());
      this.#byName.set(c.toLowerCase(), actorKey);
      this.#byActor.set(actorKey, c);
      return c;
    }
    return candidates[candidates.length - 1]!;
  }
}
