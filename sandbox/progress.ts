/**
 * Progress lines while the sandbox installs and starts things: what, and how long so far.
 * A step prints when it begins, every few seconds while it runs, and once when it is done.
 */
export type Say = (line: string) => void;

export async function step<T>(say: Say, what: string, run: () => Promise<T>, done: (value: T) => string = () => "ready"): Promise<T> {
  const t0 = performance.now();
  const secs = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  say(`… ${what}`);
  const timer = setInterval(() => say(`… ${what} (${Math.round((performance.now() - t0) / 1000)} s so far)`), 5000);
  try {
    const value = await run();
    say(`✓ ${what}: ${done(value)} (${secs()})`);
    return value;
  } catch (err) {
    say(`✗ ${what}: failed after ${secs()}`);
    throw err;
  } finally {
    clearInterval(timer);
  }
}
