/**
 * Memory: Junction's resident size with 1,000 puppets that all have avatars, across 100 links,
 * then with 10,000 puppets. Each link is one Discord channel (the emulator, so every person can
 * have their own avatar on its CDN) and one Prosody MUC. Every Discord person speaks once; Junction
 * makes them a puppet occupant of the MUC that fetches their avatar, keeps it in the store and
 * advertises its hash in presence (XEP-0153), as it would in production. A watcher on XMPP, in
 * every MUC, counts the messages and the advertised avatars and asks some puppets for their vCard.
 * Figures: resident memory after a full GC (through the inspector) and the peak (VmHWM).
 */
import { readFileSync } from "node:fs";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { newPerson, type Person } from "../test/harness/xmpp-person.ts";
import { spawnInspectedJunction } from "../test/harness/junction-process.ts";
import { prng } from "../test/harness/prng.ts";
import { startDiscordEmulator } from "../test/discord-emulator/index.ts";
import type { HeapFigures } from "../test/harness/inspector.ts";

export interface MemoryStage {
  puppets: number;
  arrived: number;
  avatarsAdvertised: number;
  avatarBytes: number;
  seconds: number;
  /** After a full GC. */
  after: HeapFigures;
  /** VmHWM so far. */
  peakMiB: number;
}

export interface MemoryResult { links: number; idleMiB: number; stages: MemoryStage[]; vcardsServed: number; vcardsAsked: number }

const PNG_SIGNATURE = Buffer.from("89504e470d0a1a0a", "hex");

/** A picture-sized blob: the PNG signature and random bytes (nobody decodes it on the way). */
function avatar(rnd: () => number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, Math.min(i, bytes - 4));
  PNG_SIGNATURE.copy(b);
  return b;
}

/** Resident KiB by mapping kind: the node binary (code, ICU data), the V8 heap and other anonymous memory, malloc's heap. */
function residentByMapping(pid: number): string {
  const rss = new Map<string, number>();
  let name = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) { name = m[1]!.endsWith("/bin/node") ? "node binary" : (m[1] || "anonymous (V8 heap, mmapped blocks)"); continue; }
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r) rss.set(name, (rss.get(name) ?? 0) + Number(r[1]));
  }
  return [...rss].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([n, kb]) => `${n} ${(kb / 1024).toFixed(1)}`).join(", ");
}

const statusKiB = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

export async function benchMemory(prosody: ProsodyServer, opts: { links: number; stages: readonly number[]; pictures: number }): Promise<MemoryResult> {
  const rnd = prng(15);
  const emu = await startDiscordEmulator({ channels: Array.from({ length: opts.links }, (_, i) => `mem-${i}`), heartbeatIntervalMs: 20_000 });
  const rooms = Array.from({ length: opts.links }, (_, i) => `mem-${i}@${prosody.mucDomain}`);
  const links: Record<string, { xmpp: string[]; discord: string[] }> = {};
  for (let i = 0; i < opts.links; i++) links[`l${i}`] = { xmpp: [rooms[i]!], discord: [emu.channels[i]!.id] };
  // 20 to 200 KiB, as profile pictures are; the first `pictures` people have their own, later ones reuse them.
  const pictures = Array.from({ length: opts.pictures }, () => avatar(rnd, Math.round((20 + rnd() * 180) * 1024)));
  const avatarBytes = (n: number) => pictures.slice(0, Math.min(n, pictures.length)).reduce((s, p) => s + p.length, 0);
  const j = await spawnInspectedJunction({
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0 },
    discord: { token: emu.token, api: emu.api, cdn: emu.cdn, catchUp: 0 },
    links,
  }, 2, { timeoutMs: 300_000 });
  const { inspector } = j;
  const people: Person[] = [];
  const stages: MemoryStage[] = [];
  let vcardsAsked = 0;
  let vcardsServed = 0;
  try {
    await inspector.gc();
    const idleMiB = (await inspector.memory()).rssMiB;
    const watcher = await newPerson(prosody, "mem-watcher");
    people.push(watcher);
    await Promise.all(rooms.map((r) => watcher.join(r, "watcher", { maxHistory: 0, timeoutMs: 60_000 })));
    let scanned = 0;
    let arrived = 0;
    const advertised = new Map<string, string>();
    const scan = () => {
      const got = watcher.received;
      for (; scanned < got.length; scanned++) {
        const s = got[scanned]!;
        if (s.is("message") && (s.getChildText("body") ?? "").startsWith("hello from person")) arrived++;
        const photo = s.is("presence") ? s.getChild("x", "vcard-temp:x:update")?.getChildText("photo") : undefined;
        if (photo) advertised.set(String(s.attrs.from), photo);
      }
    };
    let made = 0;
    for (const total of opts.stages) {
      const started = Date.now();
      for (; made < total; made++) {
        const p = emu.person({ username: `person${made}`, globalName: `Person ${made}`, avatar: pictures[made % pictures.length]! });
        p.send(emu.channels[made % opts.links]!.id, `hello from person ${made}`);
        if (made % 100 === 99) await new Promise((r) => setImmediate(r)); // let the gateway write
      }
      const deadline = Date.now() + 1_500_000;
      while (Date.now() < deadline) {
        scan();
        if (arrived >= total && advertised.size >= total) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const seconds = (Date.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, 3000)); // the last joins and store commits
      await inspector.gc();
      const after = await inspector.memory();
      stages.push({ puppets: total, arrived, avatarsAdvertised: advertised.size, avatarBytes: avatarBytes(total), seconds, after, peakMiB: statusKiB(j.pid, "VmHWM") / 1024 });
      process.stderr.write(`  ${total} puppets: ${after.rssMiB.toFixed(1)} MiB after GC (heap ${after.heapUsedMiB.toFixed(1)}, external ${after.externalMiB.toFixed(1)}), peak ${(statusKiB(j.pid, "VmHWM") / 1024).toFixed(1)} MiB, ${seconds.toFixed(0)} s\n`);
      process.stderr.write(`    resident MiB by mapping: ${residentByMapping(j.pid)}\n`);
      if (vcardsAsked === 0) {
        // Some puppets' vCards, as an XMPP client shows them: the bytes come from the store.
        for (const occupant of [...advertised.keys()].slice(0, 20)) {
          vcardsAsked++;
          const id = `vc${vcardsAsked}`;
          await watcher.send(xml("iq", { type: "get", to: occupant, id }, xml("vCard", { xmlns: "vcard-temp" })));
          const answer = await watcher.waitFor((s: Element) => s.is("iq") && s.attrs.id === id, 20_000, `the vCard of ${occupant}`).catch(() => undefined);
          if (answer?.attrs.type === "result" && answer.getChild("vCard")?.getChild("PHOTO")?.getChildText("BINVAL")) vcardsServed++;
        }
      }
    }
    return { links: opts.links, idleMiB, stages, vcardsServed, vcardsAsked };
  } finally {
    for (const p of people) await p.stop().catch(() => {});
    await j.stop();
    await emu.stop();
  }
}
