/**
 * The appservice ping (`POST /_matrix/client/v1/appservice/{id}/ping`) makes the homeserver call
 * Junction back with the registration's url and hs_token, so its failure says exactly which half of
 * the registration the homeserver has wrong. Synapse's answers: M_CONNECTION_FAILED (nothing at the
 * url), M_BAD_STATUS with Junction's 403 (another hs_token), M_TIMEOUT.
 */
import type { Logger } from "pino";
import { NotReadyError } from "../../core/adapter.ts";
import type { Homeserver } from "./client.ts";

export interface PingContext {
  /** matrix.registration, the file Junction read. */
  readonly registration: string;
  /** The registration's url, where the homeserver calls Junction. */
  readonly url: string;
  /** matrix.listen, where Junction listens. */
  readonly listen: string;
}

/** The line to log: what the homeserver could not do, and the fix. */
export function explainPingFailure(err: string, c: PingContext): string {
  const restart = "then restart the homeserver; until then nothing said on Matrix is bridged";
  if (/M_CONNECTION_FAILED|M_TIMEOUT|ECONNREFUSED|timed? ?out/i.test(err)) {
    return `the homeserver cannot reach Junction at the registration's url ${c.url} (${err}): set url in ${c.registration} to where ` +
      `Junction listens (matrix.listen, ${c.listen}) as the homeserver sees it, or rerun junction matrix-registration --url, ${restart}`;
  }
  if (/M_BAD_STATUS/.test(err) && /\b40[13]\b/.test(err)) {
    return `the homeserver calls Junction with an hs_token that is not the one in ${c.registration} (${err}): it loaded another copy ` +
      `of the registration; put this file in app_service_config_files, ${restart}`;
  }
  return `appservice ping failed (${err}); the homeserver may take a while to send what it queued`;
}

/**
 * Pings the homeserver for appservice `id`, which also makes it retry queued transactions now
 * instead of after its backoff (up to 512 s). A failure is logged with its fix; an unreachable
 * homeserver (NotReadyError) is thrown for the reconnect.
 */
export async function pingAppservice(hs: Homeserver, id: string, c: PingContext, log: Logger): Promise<void> {
  try {
    await hs.request("POST", `/_matrix/client/v1/appservice/${encodeURIComponent(id)}/ping`, { body: { transaction_id: `junction-ping-${Date.now()}` } });
  } catch (err) {
    if (err instanceof NotReadyError) throw err;
    log.error({ err: (err as Error).message }, explainPingFailure((err as Error).message, c));
  }
}
