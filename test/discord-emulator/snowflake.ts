/**
 * Discord snowflakes: 64-bit ids whose top 42 bits are milliseconds since the Discord epoch
 * (2015-01-01), then worker, process and a per-millisecond increment. Ids made here only ever
 * grow, so ordering by id is ordering by creation, as on Discord.
 */
export const DISCORD_EPOCH = 1_420_070_400_000n;

let last = 0n;

/** A new snowflake, strictly greater than every one made before in this process. */
export function snowflake(at: number = Date.now()): string {
  let id = ((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | (1n << 12n);
  if (id <= last) id = last + 1n;
  last = id;
  return id.toString();
}

/** The creation time (ms since 1970) of a snowflake. */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}

/** Snowflakes compare as numbers, not as strings (lengths differ). */
export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a), y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isSnowflake(s: string): boolean {
  return /^[0-9]{1,20}$/.test(s);
}
