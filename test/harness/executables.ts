/** Finding the programs the harness starts, so a missing one fails with an install hint, not ENOENT. */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
