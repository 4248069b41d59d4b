/**
 * A TCP relay on loopback for fault tests: everything between a client and a server goes through
 * it, and `halfOpen()` makes the connections open so far go silent the way a dead network path
 * does. The server's side is closed (the server notices, as it would after its own timeout),
 * the client's socket stays open and hears nothing: only a keepalive can tell it is dead.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  halfOpen(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const live = new Set<{ client: Socket; server: Socket }>();
  const dead: Socket[] = [];
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    const pair = { client, server: upstream };
    live.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => { live.delete(pair); client.destroy(); upstream.destroy(); };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get accepted() { return accepted; },
    halfOpen() {
      for (const pair of live) {
        pair.client.unpipe(pair.server);
        pair.server.unpipe(pair.client);
        pair.client.removeAllListeners("close");
        pair.client.removeAllListeners("error");
        pair.client.on("error", () => undefined);
        pair.client.resume(); // read and drop what the client still writes
        pair.server.removeAllListeners("close");
        pair.server.removeAllListeners("error");
        pair.server.on("error", () => undefined);
        pair.server.destroy();
        dead.push(pair.client);
      }
      live.clear();
    },
    async close() {
      for (const pair of live) { pair.client.destroy(); pair.server.destroy(); }
      for (const s of dead) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
