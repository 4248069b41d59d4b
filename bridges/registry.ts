/**
 * The one explicit map from a configured network to its adapter. Only this file knows every
 * bridge; the core receives the adapters, and no bridge imports another.
 */
import type { Logger } from "pino";
import type { Adapter } from "../core/adapter.ts";
import type { Config } from "../config/schema.ts";
import { MatrixAdapter } from "./matrix/adapter.ts";
import { XmppAdapter } from "./xmpp/adapter.ts";

export function buildAdapters(config: Config, log: Logger): Adapter[] {
  const adapters: Adapter[] = [];
  if (config.xmpp) adapters.push(new XmppAdapter(config.xmpp, log.child({ network: "xmpp" })));
  if (config.matrix) adapters.push(new MatrixAdapter(config.matrix, log.child({ network: "matrix" })));
  if (config.discord) {
    throw new Error("the discord section is accepted, but the Discord bridge is not part of this release yet; remove the section (and Discord rooms from links)");
  }
  return adapters;
}
