/** The homeserver.yaml a test Synapse runs with (written as JSON, which YAML reads as is). */
import { generateKeyPairSync, randomBytes } from "node:crypto";

export interface SynapseLayout {
  dir: string;
  port: number;
  serverName: string;
  sharedSecret: string;
  registrations: string[];
  extra?: Record<string, unknown>;
}

// High enough that no test ever meets a limit; Synapse's defaults (e.g. 1 join/s per room,
// 0.1 presence updates/s per user) make bridge tests flaky.
const lifted = { per_second: 100_000, burst_count: 100_000 };

export function homeserverConfig(l: SynapseLayout): Record<string, unknown> {
  return {
    server_name: l.serverName,
    pid_file: `${l.dir}/homeserver.pid`,
    listeners: [
      {
        port: l.port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        resources: [{ names: ["client"], compress: false }],
      },
    ],
    database: { name: "sqlite3", args: { database: `${l.dir}/homeserver.db` } },
    media_store_path: `${l.dir}/media`,
    signing_key_path: `${l.dir}/signing.key`,
    registration_shared_secret: l.sharedSecret,
    report_stats: false,
    bcrypt_rounds: 4, // registering and logging in test users in milliseconds, not 250 ms
    enable_metrics: false,
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    presence: { enabled: true },
    max_upload_size: "50M",
    url_preview_enabled: false,
    app_service_config_files: l.registrations,
    rc_message: lifted,
    rc_login: { address: lifted, account: lifted, failed_attempts: lifted },
    rc_registration: lifted,
    rc_registration_token_validity: lifted,
    rc_joins: { local: lifted, remote: lifted },
    rc_joins_per_room: lifted,
    rc_presence: { per_user: lifted },
    rc_invites: { per_room: lifted, per_user: lifted, per_issuer: lifted },
    rc_third_party_invite: lifted,
    rc_3pid_validation: lifted,
    rc_admin_redaction: lifted,
    rc_media_create: lifted,
    rc_room_creation: lifted,
    rc_profile: lifted,
    rc_reports: lifted,
    rc_delayed_event_mgmt: lifted,
    rc_user_directory: lifted,
    rc_key_requests: lifted,
    ...l.extra,
  };
}

/**
 * A signing key in Synapse's format ("ed25519 <key id> <unpadded base64 seed>"), made here so that
 * no extra Python start (`--generate-keys`, about 2 s) is needed.
 */
export function signingKey(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = der.subarray(der.length - 32).toString("base64").replace(/=+$/, "");
  return `ed25519 a_${randomBytes(3).toString("hex")} ${seed}\n`;
}
