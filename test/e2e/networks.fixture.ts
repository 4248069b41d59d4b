/** The three adapters as most end-to-end tests make them: the harness Prosody, Synapse and Discord emulator. */
import type { Logger } from "pino";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import type { DiscordEmulator } from "../discord-emulator/index.ts";
import type { ProsodyServer } from "../harness/prosody.ts";
import type { TestSynapse } from "./matrix-synapse.fixture.ts";

export interface NetworkServers {
  readonly prosody: Pick<ProsodyServer, "componentPort" | "componentDomain" | "componentSecret">;
  readonly syn: Pick<TestSynapse, "matrixConfig">;
  readonly emu: Pick<DiscordEmulator, "token" | "api" | "cdn">;
}

/** An XMPP, a Matrix and a Discord adapter (bot nick "Junction", no join history, Discord catch-up `discordCatchUp`). */
export function threeAdapters(s: NetworkServers, log: Logger, opts: { readonly discordCatchUp?: number } = {}): [XmppAdapter, MatrixAdapter, DiscordAdapter] {
  const xmpp = new XmppAdapter({
    server: `xmpp://127.0.0.1:${s.prosody.componentPort}`, component: s.prosody.componentDomain, secret: s.prosody.componentSecret,
    nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter(s.syn.matrixConfig, log.child({ network: "matrix" }));
  const discord = new DiscordAdapter({ token: s.emu.token, api: s.emu.api, cdn: s.emu.cdn, everyone: [], catchUp: opts.discordCatchUp ?? 500 }, log.child({ network: "discord" }));
  return [xmpp, matrix, discord];
}
