import { createHash } from "node:crypto";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { PuppetRecord } from "../../core/adapter.ts";
import { actorId } from "../../core/events.ts";
import { Store } from "../../core/store/store.ts";
import { Puppets } from "../../bridges/xmpp/puppets.ts";

const png = (seed: number) => new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * seed) % 251));
const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");

describe("puppet avatars live in the store, not in memory", () => {
  it("keeps each distinct picture once, by the SHA-1 of its bytes", () => {
    const store = new Store(":memory:");
    const a = png(3);
    expect(store.avatars.put(a, "image/png")).toBe(sha1(a));
    expect(store.avatars.put(a, "image/png")).toBe(sha1(a));
    expect(store.db.prepare("SELECT count(*) AS n FROM avatars").get()).toEqual({ n: 1 });
    expect(store.avatars.get(sha1(a))).toEqual({ data: a, mime: "image/png" });
    expect(store.avatars.get(sha1(png(5)))).toBeUndefined();
    store.close();
  });

  it("moves a record's base64 photo (from before migration 4) into the store, and answers vCards from there", () => {
    const store = new Store(":memory:");
    const photo = png(7);
    const legacy: PuppetRecord = {
      network: "xmpp", actor: actorId("@ann:example.org"), handle: "ann@bridge.localhost",
      data: { name: "Ann", photo: Buffer.from(photo).toString("base64"), mime: "image/png", photoSha1: sha1(photo), avatarHash: "h1" },
    };
    store.puppets.put(legacy);
    const puppets = new Puppets({ send: async () => undefined } as never, "bridge.localhost", pino({ level: "silent" }));
    puppets.attach({ puppets: store.puppets, avatars: store.avatars } as never);

    const record = store.puppets.get("xmpp", legacy.actor)!;
    expect(record.data).not.toHaveProperty("photo");
    expect(record.data).toMatchObject({ photoSha1: sha1(photo), mime: "image/png", avatarHash: "h1", name: "Ann" });
    expect(JSON.stringify(record).length).toBeLessThan(500);
    expect(puppets.profile("ann@bridge.localhost")).toEqual({ name: "Ann", avatar: { data: photo, mime: "image/png" } });
    store.close();
  });

  it("prunes the avatars no puppet shows any more, and keeps those one does", () => {
    const store = new Store(":memory:");
    const [old, now, shared] = [png(11), png(13), png(17)];
    for (const p of [old, now, shared]) store.avatars.put(p, "image/png");
    store.puppets.put({ network: "xmpp", actor: actorId("@a:x"), handle: "a@bridge.localhost", data: { name: "A", photoSha1: sha1(now) } });
    store.puppets.put({ network: "xmpp", actor: actorId("@b:x"), handle: "b@bridge.localhost", data: { name: "B", photoSha1: sha1(shared) } });
    store.puppets.put({ network: "xmpp", actor: actorId("@c:x"), handle: "c@bridge.localhost", data: { name: "C" } });
    store.puppets.put({ network: "xmpp", actor: actorId("@d:x"), handle: "d@bridge.localhost" });
    expect(store.avatars.pruneBatch(500)).toBe(1);
    expect(store.avatars.get(sha1(old))).toBeUndefined();
    expect(store.avatars.get(sha1(now))?.data).toEqual(now);
    expect(store.avatars.get(sha1(shared))?.data).toEqual(shared);
    expect(store.avatars.pruneBatch(500)).toBe(0);
    store.close();
  });
});
