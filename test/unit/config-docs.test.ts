import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ANY_NAME, knownKeys, leafKeys } from "../../config/keys.ts";
import { loadConfig } from "../../config/load.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const example = new URL("../../config/example.yaml", import.meta.url).pathname;

describe("docs and example.yaml follow the schema", () => {
  const keys = leafKeys();

  it("walks the schema's leaf keys", () => {
    expect(keys).toContain("xmpp.server");
    expect(keys).toContain("matrix.ghostPrefix");
    expect(keys).toContain(`links.${ANY_NAME}.discord`);
    expect(keys).toHaveLength(45);
    expect(knownKeys([])).toEqual(["xmpp", "matrix", "discord", "http", "store", "delivery", "log", "media", "admin", "links"]);
    expect(knownKeys(["media"])).toEqual(["allowHosts", "maxBytes", "timeouts"]);
    expect(knownKeys(["links", "any"])).toEqual(["xmpp", "matrix", "discord"]);
  });

  it.each(keys)("docs/config.md documents `%s`", (key) => {
    expect(read("docs/config.md")).toContain(`\`${key}\``);
  });

  it.each(keys)("config/example.yaml shows %s (possibly commented out)", (key) => {
    const leaf = key.split(".").at(-1) ?? key;
    expect(read("config/example.yaml")).toMatch(new RegExp(`^\\s*(#\\s*)?${leaf}:`, "m"));
  });

  it("config/example.yaml is valid once the variables it names are set", () => {
    const names = [...read("config/example.yaml").matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? "");
    expect(names).toContain("XMPP_COMPONENT_SECRET");
    const config = loadConfig(example, Object.fromEntries(names.map((v) => [v, "value"])));
    expect(Object.keys(config.links)).toEqual(["lobby", "dev"]);
    expect(config.xmpp?.secret).toBe("value");
  });
});
