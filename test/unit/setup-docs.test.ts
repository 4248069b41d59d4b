/**
 * The setup guides quote values the code decides: the Discord invite's permission integer and the
 * permissions and intents it stands for, and the systemd unit's reload. Kept equal here so that a
 * permission added in bridges/discord/permissions.ts cannot leave the README inviting a bot that
 * lacks it.
 */
import { readFileSync } from "node:fs";
import { PermissionFlagsBits } from "discord.js";
import { describe, expect, it } from "vitest";
import { INVITE_PERMISSIONS, NEEDED, PRIVILEGED } from "../../bridges/discord/permissions.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
/** Words wrapped across lines read as one line. */
const readme = read("README.md").replace(/\s+/g, " ");

describe("the Discord setup guide follows bridges/discord/permissions.ts", () => {
  it("the invite URL carries INVITE_PERMISSIONS", () => {
    expect(readme).toContain(`permissions=${INVITE_PERMISSIONS}`);
    expect(readme).toContain(`**${INVITE_PERMISSIONS}**`);
  });

  it("the sum written out adds up to it, one term per permission", () => {
    const sum = /their sum, ([\d +]+) = \*\*(\d+)\*\*/.exec(readme);
    expect(sum).not.toBeNull();
    const terms = sum![1]!.split("+").map((t) => BigInt(t.trim()));
    expect(terms.reduce((a, b) => a + b, 0n)).toBe(INVITE_PERMISSIONS);
    expect(terms.sort()).toEqual([...NEEDED.map((p) => p.bit), PermissionFlagsBits.ManageMessages].sort());
  });

  it.each([...NEEDED.map((p) => p.name), "Manage Messages"])("names the permission %s", (name) => {
    expect(readme.includes(name), name).toBe(true);
  });

  it.each(PRIVILEGED.map((p) => p.name))("names the privileged intent %s", (name) => {
    expect(readme.includes(`*${name}*`), name).toBe(true);
  });
});

describe("the systemd unit", () => {
  const unit = read("contrib/junction.service");
  it("reloads with SIGHUP and stops with SIGTERM", () => {
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^ExecStart=\S+\/bin\/junction start --config \S+$/m);
  });
  it("is what docs/operations.md installs", () => {
    expect(read("docs/operations.md")).toContain("cp contrib/junction.service /etc/systemd/system/");
  });
});
