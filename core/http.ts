/**
 * Junction's one HTTP server (`http.listen`, `http.publicUrl`). Parts of Junction mount a handler
 * under a path prefix: today the signed media URLs (core/public-media.ts) that Discord needs for
 * avatars and large files, and the status page, /metrics and /health (core/admin-http.ts). Plain node:http:
 * a prefix table is all the routing there is.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

export interface HttpServerConfig {
  readonly listen: { readonly host: string; readonly port: number };
  readonly publicUrl: string;
  /** Required on /, /metrics and /health where publicUrl is public (core/admin-http.ts). */
  readonly adminToken?: string | undefined;
}

/** Answers one request whose path starts with the handler's prefix; `rest` is the path after it. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void> | void;

export class HttpServer {
  readonly publicUrl: string;
  readonly #config: HttpServerConfig;
  readonly #log: Logger;
  readonly #routes: { prefix: string; handler: HttpHandler }[] = [];
  #server: Server | undefined;

  constructor(config: HttpServerConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.publicUrl = config.publicUrl.replace(/\/+$/, "");
  }

  /** Mounts `handler` under `prefix` (like "/media/"); the longest matching prefix wins. */
  mount(prefix: string, handler: HttpHandler): void {
    this.#routes.push({ prefix, handler });
    this.#routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  async listen(): Promise<AddressInfo> {
    const server = createServer((req, res) => this.#serve(req, res));
    server.requestTimeout = 60_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#config.listen.port, this.#config.listen.host, () => { server.off("error", reject); resolve(); });
    });
    this.#server = server;
    const addr = server.address() as AddressInfo;
    this.#log.info({ listen: `${addr.address}:${addr.port}`, publicUrl: this.publicUrl }, "HTTP server listening");
    return addr;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = this.#routes.find((r) => path.startsWith(r.prefix));
    if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(route ? 405 : 404, { "content-type": "text/plain" }).end(route ? "method not allowed\n" : "not found\n");
      return;
    }
    Promise.resolve(route.handler(req, res, path.slice(route.prefix.length))).catch((err: unknown) => {
      this.#log.warn({ path: route.prefix, err: (err as Error).message }, "HTTP request failed");
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("could not fetch this file\n");
    });
  }
}
