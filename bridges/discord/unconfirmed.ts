/**
 * Webhook executes take no idempotency key: a crash (or a timeout) between Discord making the
 * message and the core recording its id would turn a resend into a duplicate. Before sending a
 * delivery that may have been tried already (a retry, or one said before this process started),
 * the channel's recent messages are searched for it: our webhook, the same name, the same text,
 * made after it was said, and not already the copy of another message.
 */
import { Routes, type REST } from "discord.js";
import type { BridgeEvent } from "../../core/events.ts";
import { compareSnowflakes } from "./ids.ts";
import type { RawMessage } from "./types.ts";

const RECENT = 100;
const FRESH_MS = 10_000;
/** Clocks differ between networks: a copy may look a little older than its original. */
const SKEW_MS = 60_000;

export class Unconfirmed {
  readonly #rest: REST;
  readonly #startedAt = Date.now();
  readonly #isMapped: (room: string, id: string) => boolean;
  readonly #recent = new Map<string, { at: number; messages: RawMessage[] }>();
  readonly #claimed = new Set<string>();

  constructor(rest: REST, isMapped: (room: string, id: string) => boolean) {
    this.#rest = rest;
    this.#isMapped = isMapped;
  }

  /** Said before this process started: its delivery may have reached Discord before a crash. */
  suspect(e: BridgeEvent): boolean {
    return e.ts < this.#startedAt;
  }

  /**
   * For the first parts' texts, in order, the ids of messages in the channel that already are
   * them, made after message `after` (the last part known delivered, or "0"); stops at the first
   * part not found.
   */
  async find(room: string, webhookId: string, username: string, parts: readonly string[], ts: number, after = "0", fresh = false): Promise<string[]> {
    const recent = await this.#load(room, fresh);
    const out: string[] = [];
    for (const text of parts) {
      const want = text.trim();
      const hit = recent.find((m) =>
        m.webhook_id === webhookId && m.author?.username === username && (m.content ?? "").trim() === want &&
        compareSnowflakes(m.id, after) > 0 && Date.parse(m.timestamp ?? "") >= ts - SKEW_MS &&
        !this.#claimed.has(m.id) && !this.#isMapped(room, m.id));
      if (!hit) break; // parts land in order: once one is missing, the rest are too
      this.#claimed.add(hit.id);
      out.push(hit.id);
      after = hit.id;
    }
    return out;
  }

  /** `fresh`: a retry, whose first try may have landed after the last read. */
  async #load(room: string, fresh: boolean): Promise<RawMessage[]> {
    const cached = this.#recent.get(room);
    if (!fresh && cached && Date.now() - cached.at < FRESH_MS) return cached.messages;
    const query = new URLSearchParams({ limit: String(RECENT) });
    const list = await this.#rest.get(Routes.channelMessages(room), { query }) as RawMessage[];
    const messages = [...list].sort((a, b) => compareSnowflakes(a.id, b.id));
    this.#recent.set(room, { at: Date.now(), messages });
    return messages;
  }
}
