/**
 * The troubleshooting table of docs/operations.md, read as data: each row's log lines (the
 * backticked text of its first column, where "…" stands for what varies: a room, an address, a
 * reason). Shared by the test that keeps the lines in the source (test/unit/troubleshooting-docs)
 * and the one that makes each failure happen against real servers (test/e2e/troubleshooting).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface Row {
  /** The first column as written. */
  readonly seen: string;
  /** Its backticked log lines. */
  readonly lines: readonly string[];
  readonly fix: string;
}

export function troubleshootingRows(markdown = readFileSync(join(ROOT, "docs/operations.md"), "utf8")): Row[] {
  const section = markdown.split(/^## Troubleshooting$/m)[1]?.split(/^## /m)[0] ?? "";
  const rows: Row[] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("| ") || /^\| (What you see|---)/.test(line)) continue;
    const cells = line.slice(2, -2).split(" | ");
    const seen = cells[0] ?? "";
    rows.push({ seen, lines: [...seen.matchAll(/`([^`]+)`/g)].map((m) => m[1]!), fix: cells.at(-1) ?? "" });
  }
  return rows;
}

/** The fixed parts of a documented line, in order: "…" is what varies. Short joints (": ") say nothing alone. */
export function fragments(line: string): string[] {
  return line.split("…").map((f) => f.trim()).filter((f) => f.length >= 4);
}

/** Does a real log message read as the documented line (its fixed parts, in order)? */
export function reads(message: string, line: string): boolean {
  let at = 0;
  for (const f of fragments(line)) {
    const i = message.indexOf(f, at);
    if (i < 0) return false;
    at = i + f.length;
  }
  return true;
}

/**
 * The pieces of a fragment that must each be in the source: messages are assembled from parts
 * (`the room refused the bot's join (${condition}): ${why}`), so a quoted line is cut where an
 * interpolation can stand, at brackets, quotes and colons, and each piece of 6 characters or more
 * must be found.
 */
export function pieces(fragment: string): string[] {
  return fragment.split(/[()":;,]/).map((p) => p.trim()).filter((p) => p.length >= 6);
}

/** Junction's own sources (what runs, not the tests), with `\"` read as `"`. */
export function sources(dirs = ["core", "bridges", "config", "sandbox", "bin"]): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|sh)$/.test(name) || !name.includes(".")) out.push(readFileSync(p, "utf8"));
    }
  };
  for (const d of dirs) walk(join(ROOT, d));
  return out.join("\n").replaceAll('\\"', '"');
}
