/**
 * The one explicit map from a configured network to its adapter. Only this file knows every
 * bridge; the core receives the adapters, and no bridge imports another. Bridges are imported
 * only when configured: matrix-bot-sdk alone costs about 50 MiB of resident memory.
 */
import type { Logger } from "pino";
import type { Adapter } from "../core/adapter.ts";
import type { Config } from "../config/schema.ts";
import { loadConfig } from "../config/load.ts";

/**
 * The config file as `junction check-config` checks it: the file itself, then the Matrix
 * registration file it names. Throws with exactly the message check-config prints (start and a
 * reload refuse with the same one).
 */
export async function readConfigFile(file: string): Promise<Config> {
  const config = loadConfig(file);
  if (config.matrix) {
    const { loadRegistration } = await import("./matrix/registration.ts");
    loadRegistration(config.matrix);
  }
  return config;
}

export async function buildAdapters(config: Config, log: Logger): Promise<Adapter[]> {
  const adapters: Adapter[] = [];
  if (config.xmpp) {
    const { XmppAdapter } = await import("./xmpp/adapter.ts");
    adapters.push(new XmppAdapter(config.xmpp, log.child({ network: "xmpp" })));
  }
  if (config.matrix) {
    const { MatrixAdapter } = await import("./matrix/adapter.ts");
    adapters.push(new MatrixAdapter(config.matrix, log.child({ network: "matrix" }), { adminRoom: config.admin?.matrixRoom }));
  }
  if (config.discord) {
    const { DiscordAdapter } = await import("./discord/adapter.ts");
    adapters.push(new DiscordAdapter(config.discord, log.child({ network: "discord" }), { adminChannel: config.admin?.discordChannel }));
  }
  return adapters;
}
