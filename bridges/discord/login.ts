/**
 * Logging in to Discord: the application (its id, and which privileged intents the portal grants),
 * then a discord.js client asking only for those, its gateway events handed to the adapter.
 */
import { Client, DiscordAPIError, Events, REST, Routes } from "discord.js";
import type { Logger } from "pino";
import type { DiscordConfig } from "../../config/schema.ts";
import { discordCaches } from "./caches.ts";
import { BASE_INTENTS, intentProblem, privilegedIntents } from "./permissions.ts";
import type { Dispatch } from "./types.ts";

export interface GatewayHandlers {
  raw(p: Dispatch): void;
  /** Connected (ready or resumed), or closed with the reason for /health. */
  ready(ready: boolean, lastError?: string): void;
  /** A resumable close: discord.js reconnects by itself. */
  reconnecting(): void;
  /** A problem an operator fixes, said once per key. */
  report(key: string, message: string): void;
}

/** Logs in and resolves once the client is ready; a refused token is TokenRefused. */
export async function logIn(config: DiscordConfig, cdn: string, log: Logger, on: GatewayHandlers): Promise<{ client: Client; applicationId: string }> {
  const rest = new REST({ ...(config.api ? { api: config.api } : {}), cdn }).setToken(config.token);
  let app: { id: string; flags?: number };
  try {
    app = await rest.get(Routes.currentApplication()) as { id: string; flags?: number };
  } catch (err) {
    if (err instanceof DiscordAPIError && err.status === 401) throw new TokenRefused();
    throw err;
  }
  const { granted, missing } = privilegedIntents(app.flags ?? 0);
  for (const m of missing) on.report(`intent:${m.name}`, intentProblem(m));
  const client = new Client({
    intents: [...BASE_INTENTS, ...granted],
    rest: { ...(config.api ? { api: config.api } : {}), cdn },
    makeCache: discordCaches(),
  });
  client.on(Events.Raw, (p: Dispatch) => on.raw(p));
  client.on(Events.ShardReady, () => on.ready(true));
  client.on(Events.ShardResume, () => on.ready(true));
  // A resumable close gives no ShardDisconnect: without this, /health would name Discord without a reason.
  client.on(Events.ShardReconnecting, () => on.reconnecting());
  client.on(Events.ShardDisconnect, (ev) => {
    if (ev.code === 4014) on.report("intent:4014", "Discord refused a privileged intent (close code 4014): check the Privileged Gateway Intents switches in the developer portal (Bot page)");
    on.ready(false, `the gateway connection closed (code ${ev.code}); discord.js reconnects`);
  });
  client.on(Events.Error, (err) => log.error({ err: err.message }, "discord client error"));
  client.rest.on("rateLimited", (info) => log.debug({ route: info.route, retryAfter: info.retryAfter, global: info.global }, "discord rate limit: waiting"));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  try {
    await client.login(config.token);
  } catch (err) {
    await client.destroy().catch(() => undefined);
    throw err;
  }
  await ready;
  log.info({ bot: client.user?.tag, guilds: client.guilds.cache.size }, "logged in to Discord");
  return { client, applicationId: app.id };
}

/** The token is wrong: a config problem no retry fixes. */
export class TokenRefused extends Error {
  constructor() {
    super("Discord refused the bot token (discord.token): copy it again from the developer portal (Bot → Reset Token)");
  }
}

export function isTokenRefused(err: unknown): boolean {
  return err instanceof TokenRefused || /invalid token|TokenInvalid/i.test(String((err as Error)?.message ?? err));
}
