/**
 * Polls `fn` until it gives something other than undefined or false, and resolves with that;
 * past `timeoutMs` it fails naming `what` was awaited. For conditions that no event announces
 * (a store row, a count reached); stanzas and Matrix events have their own waitFor.
 */
export async function until<T>(
  what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
