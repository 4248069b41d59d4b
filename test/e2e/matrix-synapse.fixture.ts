/**
 * The shared test Synapse (test/harness/synapse.ts) with Junction's appservice registration written
 * first, and the MatrixConfig that points the adapter at both.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MatrixConfig } from "../../config/schema.ts";
import { generateRegistration } from "../../bridges/matrix/registration.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startSynapse } from "../harness/synapse.ts";

export interface TestSynapse {
  readonly url: string;
  readonly matrixConfig: MatrixConfig;
  registerUser(localpart: string, displayname?: string): Promise<{ userId: string; token: string }>;
  /** Starts it again after stop({ keepData: true }), same port and database. */
  start(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestSynapse(): Promise<TestSynapse> {
  const dir = mkdtempSync(join(tmpdir(), "junction-matrix-reg-"));
  trackTempDir(dir);
  const asPort = await freePort();
  const matrixConfig = {
    homeserver: "", domain: "localhost", listen: { host: "127.0.0.1", port: asPort },
    registration: join(dir, "registration.yaml"), ghostPrefix: "_junction_",
  } satisfies MatrixConfig;
  writeFileSync(matrixConfig.registration, generateRegistration(matrixConfig));
  const synapse = await startSynapse({ registration: matrixConfig.registration });
  matrixConfig.homeserver = synapse.url;
  return {
    url: synapse.url,
    matrixConfig,
    async registerUser(localpart, displayname) {
      const u = await synapse.registerUser(localpart, `${localpart}-pw`);
      if (displayname) {
        const res = await fetch(`${synapse.url}/_matrix/client/v3/profile/${encodeURIComponent(u.userId)}/displayname`, {
          method: "PUT", headers: { authorization: `Bearer ${u.accessToken}` }, body: JSON.stringify({ displayname }),
        });
        if (!res.ok) throw new Error(`setting ${u.userId}'s display name: HTTP ${res.status}`);
      }
      return { userId: u.userId, token: u.accessToken };
    },
    start: () => synapse.restart(),
    stop: (opts) => synapse.stop(opts),
  };
}
