/**
 * Memory: Junction's resident size with 1,000 puppets across 100 links. Ten people each speak once
 * in the first room of each of 100 XMPP-XMPP links; each becomes a puppet occupant in the second
 * room (rooms are semi-anonymous, so each room's speaker is a distinct person to Junction).
 */
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { newPerson, type Person } from "../test/harness/xmpp-person.ts";
import { spawnJunction } from "../test/harness/junction-process.ts";

export interface MemoryResult { links: number; puppets: number; arrived: number; rssMiB: number; idleRssMiB: number }

export async function benchMemory(prosody: ProsodyServer, opts: { links: number; people: number }): Promise<MemoryResult> {
  const links: Record<string, { xmpp: string[] }> = {};
  for (let i = 0; i < opts.links; i++) links[`l${i}`] = { xmpp: [`mem-${i}-a@${prosody.mucDomain}`, `mem-${i}-b@${prosody.mucDomain}`] };
  const j = await spawnJunction({
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    links,
  }, 1);
  const people: Person[] = [];
  try {
    const idleRssMiB = j.rssMiB();
    const watcher = await newPerson(prosody, "mem-watcher");
    people.push(watcher);
    for (let i = 0; i < opts.links; i++) await watcher.join(`mem-${i}-b@${prosody.mucDomain}`, "watcher", { maxHistory: 0 });
    for (let p = 0; p < opts.people; p++) {
      const person = await newPerson(prosody, `mem-p${p}`);
      people.push(person);
      for (let i = 0; i < opts.links; i++) {
        await person.join(`mem-${i}-a@${prosody.mucDomain}`, `person${p}`, { maxHistory: 0 });
        await person.say(`mem-${i}-a@${prosody.mucDomain}`, `hello from person ${p} in link ${i}`);
      }
    }
    const expected = opts.links * opts.people;
    const deadline = Date.now() + 120_000;
    let arrived = 0;
    while (Date.now() < deadline) {
      arrived = watcher.received.filter((s) => s.is("message") && (s.getChildText("body") ?? "").startsWith("hello from person")).length;
      if (arrived >= expected) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 2000)); // let joins and GC settle before reading RSS
    return { links: opts.links, puppets: expected, arrived, rssMiB: j.rssMiB(), idleRssMiB };
  } finally {
    for (const p of people) await p.stop().catch(() => {});
    await j.stop();
  }
}
