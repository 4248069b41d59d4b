/**
 * Pushes transactions to an appservice exactly as a homeserver does (`PUT
 * /_matrix/app/v1/transactions/{txnId}` with the hs_token): what an unchecked homeserver push
 * looks like, for tests that need events Synapse itself would never accept from a client.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface AppservicePusher {
  readonly hsToken: string;
  /** Sends `body` (JSON-encoded unless it is a string already); resolves to the HTTP status. */
  push(body: unknown, opts?: { token?: string | null; txnId?: string }): Promise<number>;
}

let counter = 0;

export function appservicePusher(registrationFile: string, listen: { host: string; port: number }): AppservicePusher {
  const hsToken = String((parse(readFileSync(registrationFile, "utf8")) as { hs_token: unknown }).hs_token);
  const base = `http://${listen.host}:${listen.port}/_matrix/app/v1/transactions/`;
  return {
    hsToken,
    async push(body, opts = {}) {
      const token = opts.token === undefined ? hsToken : opts.token;
      const res = await fetch(base + encodeURIComponent(opts.txnId ?? `test-${process.pid}-${++counter}-${Date.now()}`), {
        method: "PUT",
        headers: { "content-type": "application/json", ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    },
  };
}
