/**
 * `node bench/store-micro.ts [messages] [batch]`: the store's share of an XMPP-to-XMPP message,
 * without a server: the inbound commit as Ingest makes it (Router.route for a batch of messages,
 * their cursors written once) and the delivery bookkeeping (the delivered copy, the outbox row
 * done) in the next commit, as a burst makes them. Prints CPU per message and the WAL frames a
 * message writes, which compare store changes without the noise of a whole bridge. MICRO_SQL runs
 * SQL on the fresh store first (DROP INDEX x, say), to see what one part costs.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { BridgeEvent, RoomRef } from "../core/events.ts";
import { LinkIndex } from "../core/links.ts";
import { Router, type Cursors } from "../core/router.ts";
import { Store } from "../core/store/store.ts";

const messages = Number(process.argv[2] ?? 20000);
const batch = Number(process.argv[3] ?? 13);
const dir = mkdtempSync(join(tmpdir(), "junction-store-micro-"));
const file = join(dir, "junction.sqlite");
const store = new Store(file);
if (process.env.MICRO_SQL) store.db.exec(process.env.MICRO_SQL);
const roomA = "bench-junction-0-a@conference.localhost" as RoomRef;
const roomB = "bench-junction-0-b@conference.localhost" as RoomRef;
const router = new Router(store, new LinkIndex([{ name: "bench", rooms: [{ network: "xmpp", room: roomA }, { network: "xmpp", room: roomB }] }]), pino({ level: "silent" }));

const event = (n: number): BridgeEvent => {
  const id = randomUUID();
  return {
    kind: "message", origin: "xmpp", room: roomA, remoteId: `${roomA}/X-03a1ef#${id}`, altId: id, ts: Date.now(),
    sender: { id: `${roomA}/X-03a1ef`, name: "X-03a1ef" } as BridgeEvent["sender"], body: { text: `bench 1039e41b ${n} 2480.097` },
    attachments: [], isAction: false, mentions: [],
  } as unknown as BridgeEvent;
};

function round(n: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i += batch) {
    const rows = store.tx(() => {
      const cursors: Cursors = new Map();
      const out = [];
      for (let k = 0; k < batch; k++) {
        const e = event(i + k);
        out.push(...router.route("xmpp", [e], { cursor: { room: roomA, value: String(e.remoteId) } }, cursors).rows);
      }
      router.writeCursors(cursors);
      return out;
    });
    for (const row of rows) {
      store.defer(() => {
        const jn = `jn-${row.id}-abcdefghij`;
        store.messages.addCopy(row.messageId!, { network: "xmpp", room: roomB, remoteId: jn, altId: jn, postedAs: `${roomB}/X-03a1ef`, bridged: true, part: 0, role: "text" });
        store.outbox.done(row.id);
      });
    }
    if (process.env.MICRO_FLUSH_EACH) store.flush(); // deferred writes in a commit of their own
  }
  store.flush();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / n;
}

round(2000); // warm-up
store.db.pragma("wal_checkpoint(TRUNCATE)");
store.db.pragma("wal_autocheckpoint = 0");
round(1300);
if (process.env.MICRO_KEEP_WAL) { const { copyFileSync } = await import("node:fs"); copyFileSync(`${file}-wal`, "/tmp/micro.wal"); copyFileSync(file, "/tmp/micro.db"); }
const frames = (statSync(`${file}-wal`).size - 32) / (store.db.pragma("page_size", { simple: true }) as number + 24);
store.db.pragma("wal_checkpoint(TRUNCATE)");
store.db.pragma("wal_autocheckpoint = 4000");
const results = [round(messages), round(messages), round(messages)];
console.log(`store per message: ${results.map((r) => (r * 1000).toFixed(1)).join(", ")} µs CPU, ${(frames / 1300).toFixed(2)} WAL frames (batches of ${batch})`);
store.close();
rmSync(dir, { recursive: true, force: true });
