/**
 * Walks the config schema for its key names: to suggest the right key for a typo, and so that a
 * test can check that docs/config.md and config/example.yaml mention every key.
 */
import type * as z from "zod";
import { configSchema } from "./schema.ts";

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType; valueType?: z.ZodType };

/** Placeholder for a name the person chooses (a link's name). */
export const ANY_NAME = "<name>";

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = current.def as unknown as Def;
    if (def.innerType && ["optional", "default", "prefault", "nullable", "nonoptional"].includes(def.type)) current = def.innerType;
    else if (def.type === "pipe" && def.in) current = def.in;
    else return current;
  }
}

function childOf(schema: z.ZodType, key: string | number): z.ZodType | undefined {
  const def = unwrap(schema).def as unknown as Def;
  if (def.type === "object") return def.shape?.[String(key)];
  if (def.type === "record") return def.valueType;
  return undefined;
}

/** The keys allowed in the mapping at `path` (record keys are free: returns undefined). */
export function knownKeys(path: readonly PropertyKey[], root: z.ZodType = configSchema): string[] | undefined {
  let schema: z.ZodType | undefined = root;
  for (const key of path) {
    if (typeof key === "symbol" || schema === undefined) return undefined;
    schema = childOf(schema, key);
  }
  if (schema === undefined) return undefined;
  const def = unwrap(schema).def as unknown as Def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : undefined;
}

/** Every leaf key as a dotted path, e.g. `xmpp.server`, `links.<name>.xmpp`. */
export function leafKeys(root: z.ZodType = configSchema, prefix = ""): string[] {
  const def = unwrap(root).def as unknown as Def;
  if (def.type === "object" && def.shape) {
    return Object.entries(def.shape).flatMap(([key, child]) => leafKeys(child, prefix ? `${prefix}.${key}` : key));
  }
  if (def.type === "record" && def.valueType) return leafKeys(def.valueType, `${prefix}.${ANY_NAME}`);
  return [prefix];
}
