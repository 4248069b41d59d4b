/**
 * The homeserver-facing half of the appservice API, on plain node:http. matrix-bot-sdk's Appservice
 * answers a transaction 200 before its handlers ran and remembers transaction ids in memory only, so
 * a crash loses what it acknowledged. Here a transaction is answered 200 only after `onTransaction`
 * resolved (the core committed it), and any failure answers 500 so that the homeserver retries.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { parseTransaction, type Transaction } from "./types.ts";

const MAX_BODY = 64 * 1024 * 1024;

export interface AppserviceServerOptions {
  readonly host: string;
  readonly port: number;
  readonly hsToken: string;
  readonly log: Logger;
  onTransaction(txnId: string, txn: Transaction): Promise<void>;
  /** `GET /users/{userId}`: true when the user exists (or was just created) in our namespace. */
  queryUser?(userId: string): Promise<boolean>;
}

export class AppserviceServer {
  readonly #opts: AppserviceServerOptions;
  #server: Server | undefined;
  /** Transactions are handled one at a time and in order, like the homeserver sends them. */
  #chain: Promise<unknown> = Promise.resolve();
  #wrongToken = false;

  constructor(opts: AppserviceServerOptions) {
    this.#opts = opts;
  }

  /**
   * Listens (once: while listening, resolves to the address at once). A port that cannot be had
   * is an error that names the key to change.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#server?.listening) return this.#server.address() as AddressInfo;
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#opts.log.error({ err }, "appservice request failed");
        answer(res, 500, { errcode: "M_UNKNOWN", error: "internal error" });
      });
    });
    this.#server = server;
    const { host, port } = this.#opts;
    await new Promise<void>((resolve, reject) => {
      const refused = (err: Error) => reject(new Error(`cannot listen on ${host}:${port} for the homeserver (${err.message}): ` +
        "free that port or change matrix.listen (and the url in the registration file)"));
      server.once("error", refused);
      server.listen(port, host, () => {
        server.off("error", refused);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    this.#opts.log.info({ listen: `${addr.address}:${addr.port}` }, "appservice listening for the homeserver");
    return addr;
  }

  /** Stops taking requests and waits for the transaction in hand. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await this.#chain.catch(() => undefined);
    server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://appservice");
    const path = url.pathname.replace(/^\/_matrix\/app\/v1(?=\/)/, "");
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? url.searchParams.get("access_token");
    if (!given) return answer(res, 401, { errcode: "M_UNAUTHORIZED", error: "missing hs_token" });
    if (given !== this.#opts.hsToken) {
      // Said once per run: a homeserver with another copy of the registration pushes again and again.
      if (!this.#wrongToken) this.#opts.log.error({ path }, "refused a push with a wrong hs_token: the homeserver loaded another copy of the registration file (or someone else is calling); put Junction's matrix.registration file in app_service_config_files and restart the homeserver");
      this.#wrongToken = true;
      return answer(res, 403, { errcode: "M_FORBIDDEN", error: "wrong hs_token" });
    }

    const txn = /^\/transactions\/([^/]+)$/.exec(path);
    if (txn && req.method === "PUT") {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req)).toString("utf8"));
      } catch (err) {
        return answer(res, 400, { errcode: "M_NOT_JSON", error: `transaction body is not JSON: ${(err as Error).message}` });
      }
      const txnId = decodeURIComponent(txn[1]!);
      const work = this.#chain.then(() => this.#opts.onTransaction(txnId, parseTransaction(body)));
      this.#chain = work.catch(() => undefined);
      try {
        await work;
      } catch (err) {
        this.#opts.log.warn({ err, txnId }, "transaction not committed; the homeserver will send it again");
        return answer(res, 500, { errcode: "M_UNKNOWN", error: "not committed, retry later" });
      }
      return answer(res, 200, {});
    }
    if (path === "/ping" && req.method === "POST") {
      await readBody(req);
      return answer(res, 200, {});
    }
    const user = /^\/users\/([^/]+)$/.exec(path);
    if (user && req.method === "GET") {
      const ok = (await this.#opts.queryUser?.(decodeURIComponent(user[1]!))) ?? false;
      return ok ? answer(res, 200, {}) : answer(res, 404, { errcode: "M_NOT_FOUND", error: "no such user" });
    }
    if (/^\/rooms\/[^/]+$/.test(path) && req.method === "GET") {
      return answer(res, 404, { errcode: "M_NOT_FOUND", error: "rooms are not created on demand" });
    }
    return answer(res, 404, { errcode: "M_UNRECOGNIZED", error: "unrecognised request" });
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
