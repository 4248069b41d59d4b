/** The builders of config/schema.ts's fields: each writes its own "expected …, got …" message. */
import * as z from "zod";
import { show } from "./values.ts";

export type Ctx = z.core.$RefinementCtx;

export function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER;
}

/** A string that must not be blank; `what` completes "expected …". */
export function text(what: string) {
  return z
    .string({ error: (iss) => `expected ${what}, got ${show(iss.input)}` })
    .trim()
    .refine((s) => s.length > 0, { error: `expected ${what}, got an empty string` });
}

/** Like text, but a wrong value is not echoed back: it may be most of a secret. */
export function secret(what: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? `expected ${what}, got nothing` : `expected ${what} as a string (put it in quotes), got ${iss.input === null ? "an empty value" : `a ${typeof iss.input}`}`) })
    .refine((s) => s.trim().length > 0, { error: `expected ${what}, got an empty string` });
}

export function httpUrl(what: string) {
  return text(what).transform((s, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(s);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return fail(ctx, `expected ${what}, got ${show(s)}`);
    return s.replace(/\/+$/, "");
  });
}

/** A whole number of at least `min`, written as a number or, after `${VAR}` substitution, as a string of digits. */
function wholeNumber(what: string, fallback: number, min: number) {
  return z
    .preprocess(
      (v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
      z.int({ error: (iss) => `expected ${what}, got ${show(iss.input)}` })
        .min(min, { error: (iss) => `expected ${what}, got ${show(iss.input)}` }),
    )
    .default(fallback);
}

/** A count (0 or more). */
export const count = (what: string, fallback: number) => wholeNumber(what, fallback, 0);
/** A whole number of at least 1. */
export const positive = (what: string, fallback: number) => wholeNumber(what, fallback, 1);

/** One room or a list of rooms on one network, normalised to a list (empty when absent). */
export function rooms(check: (value: unknown) => { room: string } | { error: string }) {
  return z.unknown().optional().transform((value, ctx) => {
    if (value === undefined || value === null) return [] as string[];
    const isList = Array.isArray(value);
    const list: unknown[] = isList ? value : [value];
    const out: string[] = [];
    list.forEach((item, i) => {
      const checked = check(item);
      if ("room" in checked) {
        out.push(checked.room);
      } else {
        ctx.addIssue({ code: "custom", message: checked.error, path: isList ? [i] : [], input: item });
        // Still counted, so that a link with one mistyped room is not also reported as too small.
        if (typeof item === "string" || typeof item === "number") out.push(String(item));
      }
    });
    return out;
  });
}
