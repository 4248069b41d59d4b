/**
 * Discord's answers as classified delivery errors, in one place for every send path (webhook
 * executes, edits, deletes, reactions, typing, webhook set-up). discord.js has waited out 429s
 * (it reads Discord's headers) and retried 5xx and timeouts a few times before it throws.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from "discord.js";
import {
  DeliveryError, httpError, PermanentDeliveryError, TransientDeliveryError,
} from "../../core/errors.ts";

/** Discord's JSON error codes this bridge acts on. */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownWebhook: 10015,
  TooLarge: 40005,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  InvalidFormBody: 50035,
} as const;

/** What a person can do about a permanent answer, by code. */
const HINTS: Partial<Record<number, string>> = {
  [DiscordCode.MissingPermissions]: "the bot lacks a permission in this channel: see the start-up log",
  [DiscordCode.MissingAccess]: "the bot cannot see this channel: check its role's channel permissions",
  [DiscordCode.UnknownChannel]: "the channel is gone or the bot was removed from its server: check the link in config",
  [DiscordCode.UnknownMessage]: "the message is gone from Discord",
  [DiscordCode.InvalidFormBody]: "Discord refused what the bridge sent",
  [DiscordCode.TooLarge]: "over the server's upload limit",
};

export function codeOf(err: unknown): number | string | undefined {
  return err instanceof DiscordAPIError ? err.code : undefined;
}

/**
 * Any error a Discord call threw, as a DeliveryError: a 4xx answer is permanent (with Discord's
 * reason and what to do), except 401 (a token refused while we run: fixed in config, then worth
 * retrying), 408 and 429; 5xx, timeouts and network failures are transient. Errors that are
 * DeliveryErrors already (media, not ready) pass unchanged.
 */
export function deliveryErrorOf(err: unknown, room: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const where = `discord channel ${room}`;
  if (err instanceof DiscordAPIError) {
    const hint = HINTS[Number(err.code)];
    const message = `${where}: ${err.message} (HTTP ${err.status}, code ${err.code})${hint ? `: ${hint}` : ""}`;
    if (err.status === 401) return new TransientDeliveryError(`${message}: Discord refused the bot token (discord.token)`, { cause: err });
    return withCause(httpError(err.status, message), err);
  }
  if (err instanceof HTTPError) return withCause(httpError(err.status, `${where}: ${err.message} (HTTP ${err.status})`), err);
  if (err instanceof RateLimitError) return new TransientDeliveryError(`${where}: rate limited on ${err.route} for ${err.timeToReset} ms`, { cause: err });
  // An AbortError (discord.js's request timeout), a reset connection, a DNS failure: all pass.
  const message = err instanceof Error ? err.message : String(err);
  return new TransientDeliveryError(`${where}: ${message}`, { cause: err });
}

function withCause(e: DeliveryError, cause: unknown): DeliveryError {
  return e instanceof PermanentDeliveryError
    ? new PermanentDeliveryError(e.message, { cause })
    : new TransientDeliveryError(e.message, { cause });
}
