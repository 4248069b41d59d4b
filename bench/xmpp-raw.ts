/**
 * Raw XMPP numbers for whatever copies messages from room A to room B (the do-nothing relay, or
 * Junction linking two MUCs): person X talks in A, person Y in B counts what arrives.
 * With roomA === roomB it measures one plain MUC hop.
 *
 * Bodies look like "bench <run> <seq> <sent at, ms>"; only the run's own messages are counted, and
 * the pattern is found anywhere in the body so a bridge may add to it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Element } from "@xmpp/xml";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { newPerson, type Person } from "../test/harness/xmpp-person.ts";

export interface RawBenchOptions {
  prosody: ProsodyServer;
  roomA: string; // bare JID of the room X speaks in
  roomB: string; // bare JID of the room Y listens in
  /** Existing people to use (already joined to roomA / roomB); created and stopped here when absent. */
  sender?: Person;
  receiver?: Person;
  /** Messages sent and awaited before measuring, so a bridge has its puppets in place. Default 10. */
  warmup?: number;
  /** Give up once nothing has arrived for this long. Default 5 s. */
  settleMs?: number;
  /** The process that copies the messages (relay or Junction): its CPU time over the burst is measured. */
  pid?: number;
}

export interface ThroughputResult {
  sent: number;
  received: number;
  lost: number;
  /** How long X took to hand every message to its socket. */
  sendMs: number;
  /** First send to last arrival. */
  totalMs: number;
  perSecond: number;
  /** Every arrival came after the one sent before it, none twice. */
  inOrder: boolean;
  /** CPU time (user + system) of `pid` from the first send until 300 ms after the last arrival. */
  cpuMs?: number;
}

export interface LatencyResult {
  rate: number;
  sent: number;
  received: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

interface Arrival {
  seq: number;
  sentAt: number;
  at: number;
}

interface Session {
  x: Person;
  y: Person;
  run: string;
  arrivals: Arrival[];
  onArrival: (() => void) | undefined;
  close(): Promise<void>;
}

/** User + system CPU time of a process in ms, from /proc (clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15)
}

const PATTERN = /bench ([0-9a-f]+) (\d+) (\d+(?:\.\d+)?)/;

async function open(opts: RawBenchOptions): Promise<Session> {
  const tag = randomBytes(3).toString("hex");
  const made: Person[] = [];
  let y = opts.receiver;
  if (!y) {
    y = await newPerson(opts.prosody, `bench-y-${tag}`);
    made.push(y);
    await y.join(opts.roomB, `Y-${tag}`, { maxHistory: 0 });
  }
  let x = opts.sender;
  if (!x) {
    x = await newPerson(opts.prosody, `bench-x-${tag}`);
    made.push(x);
    await x.join(opts.roomA, `X-${tag}`, { maxHistory: 0 });
  }
  x.xmpp.socket?.setNoDelay?.(true);
  y.xmpp.socket?.setNoDelay?.(true);
  const session: Session = {
    x,
    y,
    run: "",
    arrivals: [],
    onArrival: undefined,
    async close() {
      y.xmpp.removeListener("stanza", listener);
      for (const p of made) await p.stop();
    },
  };
  const listener = (stanza: Element): void => {
    const at = performance.now();
    if (!stanza.is("message") || stanza.attrs.type !== "groupchat") return;
    if (!(stanza.attrs.from ?? "").startsWith(`${opts.roomB}/`)) return;
    const match = PATTERN.exec(stanza.getChildText("body") ?? "");
    if (!match || match[1] !== session.run) return;
    session.arrivals.push({ seq: Number(match[2]), sentAt: Number(match[3]), at });
    session.onArrival?.();
  };
  y.xmpp.on("stanza", listener);
  return session;
}

function send(s: Session, roomA: string, seq: number): Promise<string> {
  return s.x.say(roomA, `bench ${s.run} ${seq} ${performance.now().toFixed(3)}`);
}

/** Resolves when `count` arrivals of the current run are in, or nothing arrived for settleMs. */
function arrivalsOf(s: Session, count: number, settleMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout;
    const check = (): void => {
      if (s.arrivals.length >= count) {
        clearTimeout(timer);
        s.onArrival = undefined;
        resolve();
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => {
        s.onArrival = undefined;
        resolve();
      }, settleMs);
    };
    s.onArrival = check;
    check();
  });
}

async function warmUp(s: Session, opts: RawBenchOptions): Promise<void> {
  const n = opts.warmup ?? 10;
  if (n === 0) return;
  s.run = randomBytes(4).toString("hex");
  s.arrivals = [];
  for (let i = 0; i < n; i++) await send(s, opts.roomA, i);
  await arrivalsOf(s, n, opts.settleMs ?? 5000);
  if (s.arrivals.length < n) {
    throw new Error(`warm-up: only ${s.arrivals.length} of ${n} messages from ${opts.roomA} reached ${opts.roomB}; is the relay or bridge running between them?`);
  }
}

/** X sends `count` messages into A as fast as its socket takes them; Y counts arrivals in B. */
export async function measureThroughput(opts: RawBenchOptions & { count?: number }): Promise<ThroughputResult> {
  const count = opts.count ?? 2000;
  const s = await open(opts);
  try {
    await warmUp(s, opts);
    s.run = randomBytes(4).toString("hex");
    s.arrivals = [];
    const cpu0 = opts.pid !== undefined ? cpuMsOf(opts.pid) : undefined;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await send(s, opts.roomA, i);
    const sendMs = performance.now() - t0;
    await arrivalsOf(s, count, opts.settleMs ?? 5000);
    const received = new Set(s.arrivals.map((a) => a.seq)).size;
    const last = s.arrivals.at(-1)?.at ?? t0;
    const totalMs = last - t0;
    let cpuMs: number | undefined;
    if (cpu0 !== undefined) {
      await new Promise((r) => setTimeout(r, 300)); // its own echoes and deferred writes
      cpuMs = cpuMsOf(opts.pid!) - cpu0;
    }
    return {
      sent: count, received, lost: count - received, sendMs, totalMs, perSecond: totalMs > 0 ? (received / totalMs) * 1000 : 0,
      inOrder: s.arrivals.every((a, i) => i === 0 || a.seq > s.arrivals[i - 1]!.seq),
      ...(cpuMs !== undefined ? { cpuMs } : {}),
    };
  } finally {
    await s.close();
  }
}

/** X sends at a steady `rate` for `durationMs`; the end-to-end delay of each arrival in B. */
export async function measureLatency(opts: RawBenchOptions & { rate?: number; durationMs?: number }): Promise<LatencyResult> {
  const rate = opts.rate ?? 100;
  const count = Math.max(1, Math.round(((opts.durationMs ?? 10_000) / 1000) * rate));
  const s = await open(opts);
  try {
    await warmUp(s, opts);
    s.run = randomBytes(4).toString("hex");
    s.arrivals = [];
    const interval = 1000 / rate;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const wait = t0 + i * interval - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await send(s, opts.roomA, i);
    }
    await arrivalsOf(s, count, opts.settleMs ?? 5000);
    const delays = s.arrivals.map((a) => a.at - a.sentAt).sort((a, b) => a - b);
    const pick = (q: number): number => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? NaN;
    const received = new Set(s.arrivals.map((a) => a.seq)).size;
    return {
      rate,
      sent: count,
      received,
      lost: count - received,
      p50: pick(0.5),
      p90: pick(0.9),
      p99: pick(0.99),
      max: delays.at(-1) ?? NaN,
      mean: delays.reduce((a, b) => a + b, 0) / (delays.length || 1),
    };
  } finally {
    await s.close();
  }
}
