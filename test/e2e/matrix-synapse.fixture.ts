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
  /** Configs of further appservices (`opts.alsoGhostPrefixes`), each with its own registration. */
  readonly otherConfigs: readonly MatrixConfig[];
  registerUser(localpart: string, displayname?: string): Promise<{ userId: string; token: string }>;
  /** Starts it again after stop({ keepData: true }), same port and database. */
  start(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * `alsoGhostPrefixes`: one more appservice per prefix (a second Junction on the same homeserver),
 * with its own registration id, tokens and namespace. `extraConfig`: homeserver.yaml keys.
 */
export async function startTestSynapse(opts: { alsoGhostPrefixes?: readonly string[]; extraConfig?: Record<string, unknown> } = {}): Promise<TestSynapse> {
  const dir = mkdtempSync(join(tmpdir(), "junction-matrix-reg-"));
  trackTempDir(dir);
  const configFor = async (ghostPrefix: string, i: number) => {
    const asPort = await freePort();
    const config = {
      homeserver: "", domain: "localhost", listen: { host: "127.0.0.1", port: asPort },
      registration: join(dir, i === 0 ? "registration.yaml" : `registration-${i}.yaml`), ghostPrefix,
    } satisfies MatrixConfig;
    // Synapse wants every appservice's id to be its own.
    writeFileSync(config.registration, generateRegistration(config).replace(/^id: junction$/m, i === 0 ? "id: junction" : `id: junction-${i}`));
    return config;
  };
  const configs: MatrixConfig[] = [];
  for (const [i, prefix] of ["_junction_", ...(opts.alsoGhostPrefixes ?? [])].entries()) configs.push(await configFor(prefix, i));
  const matrixConfig = configs[0]!;
  const synapse = await startSynapse({ registration: configs.map((c) => c.registration), ...(opts.extraConfig ? { extraConfig: opts.extraConfig } : {}) });
  for (const c of configs) (c as { homeserver: string }).homeserver = synapse.url;
  return {
    url: synapse.url,
    matrixConfig,
    otherConfigs: configs.slice(1),
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
