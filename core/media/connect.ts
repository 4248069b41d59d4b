/**
 * undici's connector with the address policy in it: the one place that sees every socket that
 * media fetching opens, after DNS, for the first hop and every redirect alike.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type Socket } from "node:net";
import { buildConnector } from "undici";
import { refusedRange, unbracket, type AddressPolicy } from "./policy.ts";

/** A refusal raised in the connector; undici hands it back to the request as it is. */
export class RefusedConnection extends Error {
  override readonly name = "RefusedConnection";
  readonly code = "JUNCTION_REFUSED";
}

/**
 * undici's connector, with the address policy applied twice: to what DNS answers (addresses the
 * policy refuses are never tried) and to the socket's remote address once connected, which is
 * the one that counts. An IP literal in the URL is checked before any packet is sent.
 */
export function checkedConnector(policy: AddressPolicy, timeout: number): buildConnector.connector {
  const connect = buildConnector({ timeout, lookup: checkedLookup(policy) });
  return (opts, callback) => {
    const host = unbracket(opts.hostname);
    const port = Number(opts.port) || (opts.protocol === "https:" ? 443 : 80);
    if (isIP(host)) {
      const why = policy.check({ host, port, address: host });
      if (why) return callback(new RefusedConnection(why), null);
    }
    connect(opts, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error("no socket"), null);
      const why = policy.check({ host, port, address: remoteOf(socket) });
      if (!why) return callback(null, socket);
      socket.destroy();
      callback(new RefusedConnection(why), null);
    });
  };
}

function remoteOf(socket: Socket): string {
  return socket.remoteAddress ?? "";
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function checkedLookup(policy: AddressPolicy) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : typeof options.family === "number" ? options.family : 0;
    dnsLookup(hostname, { all: true, family }, (err, addresses) => {
      if (err) return callback(err, []);
      // The port is not known here: an allowance on any port lets the address through to the socket check.
      const usable = addresses.filter((a) => refusedRange(a.address) === undefined || policy.allows({ host: hostname, port: 0, address: a.address }, true));
      if (usable.length === 0) {
        const list = addresses.map((a) => a.address).join(", ");
        return callback(new RefusedConnection(`${hostname} resolves only to addresses Junction does not fetch from (${list}), and media.allowHosts does not allow them`), []);
      }
      if (options.all) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}
