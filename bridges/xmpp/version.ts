/** Junction's version, from package.json, for XEP-0092 answers. */
import { readFileSync } from "node:fs";

export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string }).version ?? "0";
  } catch {
    return "0";
  }
})();
