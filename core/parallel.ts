/**
 * `fn` over `items`, at most `limit` at once; the answers in the items' order. The first failure
 * rejects it, and no item is started after that (those under way finish on their own), as a
 * loop of awaits would stop at its first throw.
 */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * inParallel for a long operation an operator watches: `report(done, extra)` at 0 and as each item
 * settles, with what `fn` returned for it (counts such as rooms joined or events read).
 */
export async function inParallelReporting<T>(
  items: readonly T[], limit: number, fn: (item: T) => Promise<Readonly<Record<string, number>>>,
  report: (done: number, extra?: Readonly<Record<string, number>>) => void,
): Promise<void> {
  report(0);
  let settled = 0;
  await inParallel(items, limit, async (item) => {
    const extra = await fn(item);
    report(++settled, extra);
  });
}
