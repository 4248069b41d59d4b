/**
 * Why the component stream could not be opened, said for the person who reads the log: the
 * likely cause and what to check, once per kind of failure, and again only as the wait between
 * attempts grows (attempts 1, 2, 4, 8, 16 …), so a server that stays down for an hour writes a
 * dozen lines, not a thousand.
 */
import type { Logger } from "pino";

export interface FailureContext {
  /** xmpp.server, like xmpp://127.0.0.1:5347. */
  readonly service: string;
  /** xmpp.component. */
  readonly domain: string;
}

export interface Explained {
  /** A short name for the kind of failure, to tell a new kind from a repeat. */
  readonly kind: string;
  /** The line itself: what happened, the likely cause and the fix. */
  readonly message: string;
}

export function explainConnectFailure(err: Error & { code?: unknown; condition?: unknown }, c: FailureContext): Explained {
  const text = `${String(err.code ?? "")} ${err.message} ${String(err.condition ?? "")}`;
  const addr = c.service.replace(/^xmpp:\/\//, "");
  if (/ECONNREFUSED/.test(text)) {
    return { kind: "refused", message: `cannot connect to the XMPP server at ${addr}: connection refused. Is the XMPP server running, and does it listen for components on that address (Prosody: component_ports and component_interfaces; ejabberd: a listen entry with ejabberd_service)?` };
  }
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) {
    return { kind: "dns", message: `cannot connect to the XMPP server at ${addr}: its host name does not resolve. Check xmpp.server.` };
  }
  if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|timeout/i.test(text)) {
    return { kind: "timeout", message: `cannot connect to the XMPP server at ${addr}: no answer. Check xmpp.server and any firewall between Junction and the server.` };
  }
  if ((/host-unknown/.test(text) && /does not serve/.test(text)) || /invalid-namespace/.test(text)) {
    // A client port answers a component's stream header: Prosody with "host-unknown - This server
    // does not serve …", ejabberd with invalid-namespace (jabber:component:accept is not its namespace).
    return { kind: "client-port", message: `the XMPP server at ${addr} answered like its client port, not its component port: point xmpp.server at the component port (Prosody: component_ports, 5347 by default; ejabberd: the port of the ejabberd_service listener).` };
  }
  if (/host-unknown|improper-addressing/.test(text)) {
    return { kind: "host-unknown", message: `the XMPP server at ${addr} has no component named ${c.domain}. Declare it (Prosody: Component "${c.domain}" with component_secret; ejabberd: hosts of the ejabberd_service listener) and restart or reload the server, or fix xmpp.component.` };
  }
  if (/not-authorized|handshake|invalid-secret/i.test(text)) {
    return { kind: "secret", message: `the XMPP server at ${addr} refused the component handshake for ${c.domain}: xmpp.secret does not match the component's secret in the server's config (Prosody: component_secret; ejabberd: password; ejabberd gives the same answer when no ejabberd_service listener has ${c.domain} in its hosts).` };
  }
  if (/conflict/.test(text)) {
    return { kind: "conflict", message: `the XMPP server already has a connection for component ${c.domain}: is another Junction running with the same xmpp.component? (Or the server has not yet noticed that the old connection is gone.)` };
  }
  if (/ECONNRESET|EPIPE|socket hang up|closed/i.test(text)) {
    return { kind: "reset", message: `the XMPP server at ${addr} closed the connection while it was being opened: is that address its component port (not the client port 5222)?` };
  }
  return { kind: "other", message: `cannot connect to the XMPP server at ${addr}: ${err.message}` };
}

/** Logs connection failures: a new kind at once, a repeat only at attempts 1, 2, 4, 8 … */
export class FailureReporter {
  readonly #log: Logger;
  #kind: string | undefined;
  #attempts = 0;
  #since = 0;
  /** The last failure's line, for the status page and /health. */
  last: string | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  failed(err: Error, c: FailureContext, retryInMs: number, now = Date.now()): void {
    const e = explainConnectFailure(err, c);
    this.last = e.message;
    if (e.kind !== this.#kind) {
      this.#kind = e.kind;
      this.#attempts = 0;
      this.#since = now;
    }
    this.#attempts++;
    const fields = { service: c.service, err: err.message, attempts: this.#attempts, retryInMs };
    if ((this.#attempts & (this.#attempts - 1)) !== 0) {
      this.#log.debug(fields, e.message);
      return;
    }
    const still = this.#attempts === 1 ? "" : ` (still, after ${this.#attempts} attempts in ${Math.round((now - this.#since) / 1000)} s)`;
    this.#log.warn(fields, `${e.message}${still} Retrying in ${formatWait(retryInMs)}.`);
  }

  /** Connected: the next failure is news again. */
  connected(): void {
    if (this.#kind !== undefined && this.#attempts > 1) this.#log.info({ attempts: this.#attempts }, "connected to the XMPP server after earlier failures");
    this.#kind = undefined;
    this.#attempts = 0;
    this.last = undefined;
  }
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
