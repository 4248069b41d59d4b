/**
 * Reads a Junction process's memory through its inspector (`--inspect=127.0.0.1:PORT`): a full
 * GC on demand (HeapProfiler.collectGarbage), then process.memoryUsage() and V8's heap figures,
 * so a benchmark reads resident memory after a GC without any code for it inside Junction.
 */
export interface HeapFigures {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

export interface Inspector {
  gc(): Promise<void>;
  memory(): Promise<HeapFigures>;
  /** Evaluates an expression in Junction's main context; its value as a string. */
  evaluate(expression: string): Promise<string>;
  /** Any other inspector method (HeapProfiler.startSampling, say): its result. */
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

export async function connectInspector(port: number, timeoutMs = 20_000): Promise<Inspector> {
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as { webSocketDebuggerUrl: string }[];
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      if (Date.now() > deadline) throw new Error(`no inspector on port ${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error("inspector connection failed")); });
  let next = 1;
  const waiting = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) { waiting.get(msg.id)?.(msg); waiting.delete(msg.id); }
  };
  const call = (method: string, params: Record<string, unknown> = {}) => new Promise<unknown>((resolve, reject) => {
    const id = next++;
    waiting.set(id, (r) => (r.error ? reject(new Error(`${method}: ${JSON.stringify(r.error)}`)) : resolve(r.result)));
    ws.send(JSON.stringify({ id, method, params }));
  });
  const mib = (b: number) => b / 1048576;
  return {
    async gc() {
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage"); // a second pass frees what the first only finalised
    },
    async memory() {
      const r = await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true }) as { result: { value: string } };
      const m = JSON.parse(r.result.value) as { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
      return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers) };
    },
    async evaluate(expression) {
      const r = await call("Runtime.evaluate", { expression, returnByValue: true }) as { result: { value: unknown } };
      return String(r.result.value);
    },
    call,
    close: () => ws.close(),
  };
}
