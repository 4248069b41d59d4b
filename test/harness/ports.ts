/**
 * Free loopback TCP ports for servers started by the tests. The kernel picks an unused port when
 * we bind to port 0; we read it and close the socket so the server can take it. There is a small
 * window in which another process could grab the same port; servers that fail to bind say so.
 */
import { connect, createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("freePort: the socket has no TCP address"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Whether 127.0.0.1:port can be bound now (a well-known port a client expects, like 5222). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Several distinct free ports (distinct even if the kernel hands one out twice in a row). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port, or rejects at the deadline. */
export async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: "127.0.0.1" });
      socket.once("connect", () => { socket.destroy(); resolve(true); });
      socket.once("error", () => { socket.destroy(); resolve(false); });
    });
    if (open) return;
    if (!isAlive()) throw new Error(`the server meant to listen on 127.0.0.1:${port} exited before it did`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
