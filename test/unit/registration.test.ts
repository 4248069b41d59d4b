import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IAppserviceRegistration } from "matrix-bot-sdk";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { MatrixConfig } from "../../config/schema.ts";
import {
  checkRegistration, generateRegistration, loadRegistration, registrationWarnings, userNamespaceRegex, type Registration,
} from "../../bridges/matrix/registration.ts";

const dir = mkdtempSync(join(tmpdir(), "junction-registration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config: MatrixConfig = {
  homeserver: "http://127.0.0.1:8008",
  domain: "example.org",
  listen: { host: "127.0.0.1", port: 9000 },
  registration: join(dir, "registration.yaml"),
  ghostPrefix: "_junction_",
};

describe("generateRegistration", () => {
  const reg = parse(generateRegistration(config)) as Registration;

  it("writes what Synapse and matrix-bot-sdk need", () => {
    expect(reg).toEqual({
      id: "junction",
      url: "http://127.0.0.1:9000",
      as_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      hs_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      sender_localpart: "_junction_bot",
      namespaces: { users: [{ exclusive: true, regex: "@_junction_.*:example\\.org$" }], aliases: [], rooms: [] },
      rate_limited: false,
      receive_ephemeral: true,
      "de.sorunome.msc2409.push_ephemeral": true,
    });
    expect(reg.as_token).not.toBe(reg.hs_token);
    const sdk: IAppserviceRegistration = reg;
    expect(sdk.sender_localpart).toBe("_junction_bot");
  });

  it("gives fresh tokens each time, and takes a url", () => {
    const other = parse(generateRegistration(config, { url: "http://10.1.2.3:1" })) as Registration;
    expect(other.as_token).not.toBe(reg.as_token);
    expect(other.url).toBe("http://10.1.2.3:1");
  });

  it.each([
    [{ host: "0.0.0.0", port: 9 }, "http://127.0.0.1:9"],
    [{ host: "::1", port: 9 }, "http://[::1]:9"],
  ])("default url for listen %j is %s", (listen, url) => {
    expect((parse(generateRegistration({ ...config, listen })) as Registration).url).toBe(url);
  });

  it.each<[string, string, boolean]>([
    ["@_junction_xmpp_alice:example.org", "example.org", true],
    ["@_junction_bot:example.org", "example.org", true],
    ["@alice:example.org", "example.org", false],
    ["@_junction_x:example.org.evil", "example.org", false],
    ["@_junction_x:exampleXorg", "example.org", false],
    ["@_junction_x:localhost:8448", "localhost:8448", true],
  ])("namespace for %s on %s: %s", (mxid, domain, inside) => {
    expect(new RegExp(userNamespaceRegex({ ...config, domain })).test(mxid)).toBe(inside);
  });
});

describe("loadRegistration", () => {
  const write = (reg: unknown) => writeFileSync(config.registration, typeof reg === "string" ? reg : stringify(reg));
  const good = () => parse(generateRegistration(config)) as Registration;

  it("round-trips a generated file", () => {
    writeFileSync(config.registration, generateRegistration(config));
    const reg = loadRegistration(config);
    expect(reg.sender_localpart).toBe("_junction_bot");
    expect(registrationWarnings(reg)).toEqual([]);
  });

  it("a missing file says which command writes it", () => {
    expect(() => loadRegistration({ ...config, registration: join(dir, "nope.yaml") })).toThrow(
      /nope\.yaml does not exist: run `junction matrix-registration --config FILE`/,
    );
  });

  it.each<[string, (r: Registration) => unknown, RegExp]>([
    ["sender_localpart", (r) => ({ ...r, sender_localpart: "bot" }), /sender_localpart: is "bot" but matrix.ghostPrefix "_junction_" needs "_junction_bot"/],
    ["regex for another domain", (r) => ({ ...r, namespaces: { ...r.namespaces, users: [{ exclusive: true, regex: "@_junction_.*:other\\.org$" }] } }),
      /namespaces.users\[0\].regex: is "@_junction_.\*:other\\\\.org\$" but .* need "@_junction_.\*:example\\\\.org\$"; set it to that/],
    ["anchored regex that breaks the sdk prefix", (r) => ({ ...r, namespaces: { ...r.namespaces, users: [{ exclusive: true, regex: "^@_junction_.*:example\\.org$" }] } }),
      /namespaces.users\[0\].regex/],
    ["non-exclusive", (r) => ({ ...r, namespaces: { ...r.namespaces, users: [{ exclusive: false, regex: userNamespaceRegex(config) }] } }),
      /namespaces.users\[0\].exclusive: must be true/],
    ["two user namespaces", (r) => ({ ...r, namespaces: { ...r.namespaces, users: [r.namespaces.users[0], r.namespaces.users[0]] } }),
      /namespaces.users: must hold exactly one entry/],
    ["a number token", (r) => ({ ...r, as_token: 12 }), /as_token: must be a non-empty string/],
    ["no url", (r) => ({ ...r, url: undefined }), /url: must be where Junction listens, like "http:\/\/127.0.0.1:9000"/],
    ["an alias namespace without exclusive", (r) => ({ ...r, namespaces: { ...r.namespaces, aliases: [{ regex: "#x.*" }] } }), /namespaces.aliases: must be a list of/],
  ])("refuses %s, naming the field and the fix", (_, change, message) => {
    write(change(good()));
    expect(() => loadRegistration(config)).toThrow(message);
  });

  it("a ghostPrefix changed after generation is caught", () => {
    writeFileSync(config.registration, generateRegistration(config));
    const problems = checkRegistration(parse(generateRegistration(config)), { ...config, ghostPrefix: "_j_" });
    expect(problems).toHaveLength(2);
    expect(() => loadRegistration({ ...config, ghostPrefix: "_j_" })).toThrow(/sender_localpart[^\n]*\n[^\n]*namespaces.users\[0\].regex/);
  });

  it("warns about rate limits and missing ephemeral events", () => {
    const r = good();
    expect(registrationWarnings({ ...r, rate_limited: undefined, receive_ephemeral: false, "de.sorunome.msc2409.push_ephemeral": false })).toHaveLength(2);
  });
});
