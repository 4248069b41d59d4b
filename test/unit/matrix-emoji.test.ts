/** Discord custom emoji as homeserver pictures: uploaded once per emoji, degraded to :name: on failure. */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Media } from "../../core/adapter.ts";
import { richBody } from "../../core/richtext/body.ts";
import { para, text, type Doc } from "../../core/richtext/tree.ts";
import { EmojiBudget, MAX_EMOJI_PER_MESSAGE, MAX_NEW_EMOJI_PER_HOUR, withEmojiPictures } from "../../bridges/matrix/emoji.ts";
import { htmlOf } from "../../bridges/matrix/html-out.ts";

const CDN = "https://cdn.example/emojis";
const PNG: Media = { data: new Uint8Array([1, 2, 3]), mime: "image/png" };
const log = pino({ level: "silent" });

function deps(fetch: (url: string) => Promise<Media> = async () => PNG, budget = new EmojiBudget()) {
  const kept = new Map<string, string>();
  const fetched: string[] = [];
  let n = 0;
  return {
    kept, fetched,
    d: {
      log, budget,
      uploads: { get: (_n: string, s: string) => kept.get(s), put: (_n: string, s: string, c: string) => void kept.set(s, c) },
      fetch: async (url: string) => { fetched.push(url); return fetch(url); },
      upload: async () => `mxc://hs/e${++n}`,
    },
  };
}
const emoji = (name: string, id: string) => ({ t: "emoji" as const, name, url: `${CDN}/${id}.png` });

describe("custom emoji on Matrix", () => {
  it("a Discord emoji becomes an inline data-mx-emoticon picture, uploaded once per emoji", async () => {
    const { d, fetched, kept } = deps();
    const doc: Doc = [para(text("hi "), emoji("blob", "1"), { t: "bold", children: [emoji("blob", "1")] }, emoji("cat", "2"))];
    const out = await withEmojiPictures(richBody(doc), "discord", d);
    expect(fetched).toEqual([`${CDN}/1.png`, `${CDN}/2.png`]);
    const html = htmlOf(out.rich!, { mxidOf: () => undefined });
    expect(html).toBe('hi <img data-mx-emoticon src="mxc://hs/e1" alt=":blob:" title=":blob:" height="32" /><strong><img data-mx-emoticon src="mxc://hs/e1" alt=":blob:" title=":blob:" height="32" /></strong><img data-mx-emoticon src="mxc://hs/e2" alt=":cat:" title=":cat:" height="32" />');
    expect(out.text).toBe("hi :blob::blob::cat:");
    // The next message finds both in the store.
    await withEmojiPictures(richBody(doc), "discord", d);
    expect(fetched).toHaveLength(2);
    expect(kept.size).toBe(2);
  });

  it("after one picture fails, the others of that message are only looked up in the store", async () => {
    const { d, fetched, kept } = deps(async () => { throw new Error("timeout"); });
    kept.set(`${CDN}/3.png`, "mxc://hs/known");
    const out = await withEmojiPictures(richBody([para(emoji("a", "1"), emoji("b", "2"), emoji("c", "3"))]), "discord", d);
    expect(fetched).toEqual([`${CDN}/1.png`]);
    expect(out.rich).toEqual([para({ t: "emoji", name: "a" }, { t: "emoji", name: "b" }, { t: "emoji", name: "c", url: "mxc://hs/known" })]);
  });

  it("a picture that cannot be fetched is the name, and is tried again next time", async () => {
    const { d, kept, fetched } = deps(async () => { throw new Error("502"); });
    const out = await withEmojiPictures(richBody([para(emoji("blob", "1"))]), "discord", d);
    expect(htmlOf(out.rich!, { mxidOf: () => undefined })).toBe(":blob:");
    await withEmojiPictures(richBody([para(emoji("blob", "1"))]), "discord", d);
    expect(fetched).toHaveLength(2);
    expect(kept.size).toBe(0);
  });

  it.each<[string, Media]>([
    ["not an image", { data: new Uint8Array([60]), mime: "text/html" }],
    ["too large", { data: new Uint8Array(300 * 1024), mime: "image/png" }],
  ])("a picture that is %s is not uploaded", async (_n, media) => {
    const { d, kept } = deps(async () => media);
    const out = await withEmojiPictures(richBody([para(emoji("blob", "1"))]), "discord", d);
    expect(out.rich).toEqual([para({ t: "emoji", name: "blob" })]);
    expect(kept.size).toBe(0);
  });

  it("an emoji picture from another network (an XHTML-IM image's address) is never fetched", async () => {
    const { d, fetched } = deps();
    const out = await withEmojiPictures(richBody([para({ t: "emoji", name: "x", url: "https://169.254.169.254/latest" }, { t: "emoji", name: "y", url: "mxc://evil/abc" })]), "xmpp", d);
    expect(fetched).toEqual([]);
    expect(htmlOf(out.rich!, { mxidOf: () => undefined })).toBe(":x::y:");
  });

  it(`at most ${MAX_EMOJI_PER_MESSAGE} pictures per message; the rest stay names`, async () => {
    const { d, fetched } = deps();
    const many = Array.from({ length: 50 }, (_, i) => emoji(`e${i}`, String(i)));
    const out = await withEmojiPictures(richBody([para(...many)]), "discord", d);
    expect(fetched).toHaveLength(MAX_EMOJI_PER_MESSAGE);
    expect(htmlOf(out.rich!, { mxidOf: () => undefined })).toContain(":e49:");
  });

  it(`at most ${MAX_NEW_EMOJI_PER_HOUR} new pictures copied an hour; the ones copied stay pictures, the rest wait for the next hour`, async () => {
    let clock = 7 * 3_600_000;
    const { d, fetched, kept } = deps(async () => PNG, new EmojiBudget(() => clock));
    const message = (from: number) => richBody([para(...Array.from({ length: MAX_EMOJI_PER_MESSAGE }, (_, i) => emoji(`e${from + i}`, String(from + i))))]);
    for (let from = 0; from < 5 * MAX_EMOJI_PER_MESSAGE; from += MAX_EMOJI_PER_MESSAGE) await withEmojiPictures(message(from), "discord", d);
    expect(fetched).toHaveLength(MAX_NEW_EMOJI_PER_HOUR);
    expect(kept.size).toBe(MAX_NEW_EMOJI_PER_HOUR);
    const again = await withEmojiPictures(message(0), "discord", d); // known ones need no budget
    expect(htmlOf(again.rich!, { mxidOf: () => undefined })).toContain('src="mxc://hs/e1" alt=":e0:"');
    const late = await withEmojiPictures(message(4 * MAX_EMOJI_PER_MESSAGE), "discord", d);
    expect(htmlOf(late.rich!, { mxidOf: () => undefined })).not.toContain("<img");
    clock += 3_600_000;
    await withEmojiPictures(message(4 * MAX_EMOJI_PER_MESSAGE), "discord", d);
    expect(fetched).toHaveLength(MAX_NEW_EMOJI_PER_HOUR + MAX_EMOJI_PER_MESSAGE);
  });
});
