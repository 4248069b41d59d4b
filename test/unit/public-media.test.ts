import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpServer } from "../../core/http.ts";
import { PublicMedia } from "../../core/public-media.ts";
import type { Network } from "../../core/events.ts";

const KEY = "11".repeat(32);
const fetched: [Network, string][] = [];
let server: HttpServer;
let base: string;
let media: PublicMedia;

beforeAll(async () => {
  server = new HttpServer({ listen: { host: "127.0.0.1", port: 0 }, publicUrl: "http://placeholder" }, pino({ level: "silent" }));
  const addr = await server.listen();
  base = `http://127.0.0.1:${addr.port}`;
  media = new PublicMedia(base, KEY, async (origin, url) => {
    fetched.push([origin, url]);
    if (url.endsWith("/page")) return { data: new TextEncoder().encode("<script>alert(1)</script>"), mime: "text/html" };
    if (url.endsWith("/gone")) throw new Error("404");
    return { data: new Uint8Array([1, 2, 3]), mime: "image/png" };
  });
  server.mount(media.prefix, (req, res, rest) => media.serve(req, res, rest));
});
afterAll(() => server.close());

describe("signed public media URLs", () => {
  it("serves what the origin adapter fetches, once, then from the cache", async () => {
    const url = media.urlFor("matrix", "mxc://localhost/abc", "avatar.png")!;
    expect(url.startsWith(`${base}/media/`)).toBe(true);
    expect(url.endsWith("/avatar.png")).toBe(true);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([1, 2, 3]);
    }
    expect(fetched.filter(([, u]) => u === "mxc://localhost/abc")).toEqual([["matrix", "mxc://localhost/abc"]]);
  });

  it("refuses a reference it did not sign, and a changed signature", async () => {
    const url = media.urlFor("matrix", "mxc://localhost/abc")!;
    const [, payload, sig] = /\/media\/([^/]+)\/([^/]+)\//.exec(url)!;
    const other = Buffer.from(JSON.stringify(["matrix", "mxc://localhost/secret"])).toString("base64url");
    for (const path of [`/media/${other}/${sig}/x`, `/media/${payload}/${"A".repeat(32)}/x`, `/media/${payload}/x`, "/media/", "/elsewhere"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(url, { method: "POST" })).status).toBe(405);
    expect(fetched.some(([, u]) => u.includes("secret"))).toBe(false);
  });

  it("never serves a file as a page of its own", async () => {
    const res = await fetch(media.urlFor("xmpp", "https://files.example/page", "x.html")!);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe("attachment");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
  });

  it("answers 502 when the origin cannot give the file, and makes no URL for an inline data: blob", async () => {
    expect((await fetch(media.urlFor("xmpp", "https://files.example/gone")!)).status).toBe(502);
    expect(media.urlFor("xmpp", `data:image/png;base64,${"A".repeat(5000)}`)).toBeUndefined();
  });

  it("keeps its URLs across restarts (the key comes from the store), and another key's do not verify", async () => {
    const again = new PublicMedia(base, KEY, async () => ({ data: new Uint8Array(), mime: "image/png" }));
    expect(again.urlFor("matrix", "mxc://localhost/abc")).toBe(media.urlFor("matrix", "mxc://localhost/abc"));
    const other = new PublicMedia(base, "22".repeat(32), async () => ({ data: new Uint8Array(), mime: "image/png" }));
    expect(other.urlFor("matrix", "mxc://localhost/abc")).not.toBe(media.urlFor("matrix", "mxc://localhost/abc"));
  });
});
