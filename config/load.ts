/**
 * Reads junction.yaml: YAML → `${VAR}` substitution → schema → paths resolved against the file's
 * directory. Every problem in the file is reported at once, one per line, as
 * `FILE: key.path[1]: expected …, got … (line N)`.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type * as z from "zod";
import { substituteEnv } from "./env.ts";
import { knownKeys } from "./keys.ts";
import { configSchema, type Config } from "./schema.ts";
import { closest, show } from "./values.ts";

export type { Config, DiscordConfig, LinkConfig, LogLevel, MatrixConfig, XmppConfig } from "./schema.ts";

export interface ConfigProblem {
  /** Dotted key path like `links.lobby.xmpp[1]`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

/** A config that cannot be used; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
    this.file = file;
    this.problems = problems;
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.path ? `${file}: ${p.path}` : file;
  return `${where}: ${p.message}${p.line !== undefined ? ` (line ${p.line})` : ""}`;
}

type Path = readonly PropertyKey[];

export function formatPath(path: Path): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

export interface ParseOptions {
  /** Named in error messages. */
  readonly file?: string;
  /** Relative paths in the config (store.path, matrix.registration) are resolved against it. */
  readonly baseDir?: string;
  /** When given, `${VAR}` in string values is substituted from it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Reads, substitutes, validates and resolves the config file at `path`; throws ConfigError. */
export function loadConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): Config {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (pass the config with --config FILE; config/example.yaml is a start)"
      : code === "EISDIR" ? "is a directory, not a config file"
      : `cannot read it (${(err as Error).message})`;
    throw new ConfigError(path, [{ path: "", message: why }]);
  }
  if (source.trim() === "") throw new ConfigError(path, [{ path: "", message: "the file is empty: start from config/example.yaml" }]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(path, doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      const what = e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? e.message;
      return { path: "", message: `YAML syntax error at line ${pos.line}, column ${pos.col}: ${what}` };
    }));
  }
  const lineOf = (p: Path) => lineAt(doc, lineCounter, p);
  return validate(doc.toJS({ maxAliasCount: 100 }), { file: path, baseDir: dirname(resolve(path)), env }, lineOf);
}

/** Validates config data built in code (tests, embedding); throws ConfigError. */
export function parseConfig(data: unknown, opts: ParseOptions = {}): Config {
  return validate(data, opts, () => undefined);
}

function validate(data: unknown, opts: ParseOptions, lineOf: (path: Path) => number | undefined): Config {
  const file = opts.file ?? "config";
  const problems: (ConfigProblem & { raw: Path })[] = [];
  const add = (raw: Path, message: string) => problems.push({ raw, path: formatPath(raw), message, line: lineOf(raw) });

  let input = data;
  if (opts.env) {
    const substituted = substituteEnv(data, opts.env);
    input = substituted.value;
    for (const p of substituted.problems) add(p.path, p.message);
  }
  const envPaths = problems.map((p) => p.path);

  const result = configSchema.safeParse(input, { reportInput: true, error: fallbackMessage });
  if (result.success && problems.length === 0) return resolvePaths(result.data, opts.baseDir ?? process.cwd());

  for (const issue of result.error?.issues ?? []) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) add([...issue.path, key], unknownKey(key, knownKeys(issue.path)));
      continue;
    }
    // A value with a missing ${VAR} is already reported as such; its shape is not the problem.
    const path = formatPath(issue.path);
    if (envPaths.some((p) => p === path || path.startsWith(`${p}.`) || path.startsWith(`${p}[`))) continue;
    add(issue.path, issue.message);
  }
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}\n${p.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  unique.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  throw new ConfigError(file, unique.map(({ path, message, line }) => (line === undefined ? { path, message } : { path, message, line })));
}

function unknownKey(key: string, known: string[] | undefined): string {
  if (!known) return "unknown key";
  const guess = closest(key, known);
  return guess ? `unknown key: did you mean "${guess}"?` : `unknown key: expected one of ${known.join(", ")}`;
}

/** For checks that did not word their own message. */
function fallbackMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type") return `expected ${issue.expected}, got ${show(issue.input)}`;
  return undefined;
}

function resolvePaths(config: Config, baseDir: string): Config {
  const storePath = config.store.path === ":memory:" ? config.store.path : resolve(baseDir, config.store.path);
  return {
    ...config,
    store: { ...config.store, path: storePath },
    ...(config.matrix ? { matrix: { ...config.matrix, registration: resolve(baseDir, config.matrix.registration) } } : {}),
  };
}

/** The line where `path` is written (a mapping key's own line), or its nearest ancestor's. */
function lineAt(doc: Document, counter: LineCounter, path: Path): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const key of path) {
    let next: unknown;
    let at: { range?: readonly number[] | null } | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      next = pair?.value;
      at = isNode(pair?.key) ? pair.key : undefined;
    } else if (isSeq(node) && typeof key === "number") {
      next = node.items[key];
      at = isNode(next) ? next : undefined;
    }
    if (!at?.range) break;
    line = counter.linePos(at.range[0] ?? 0).line;
    node = next;
  }
  return line;
}
