/**
 * The sandbox Prosody's certificate: self-signed for localhost, conference.localhost and
 * 127.0.0.1, made with openssl at each start (an EC key: a few milliseconds) in the sandbox's data
 * directory, so XMPP clients that insist on TLS (Dino, Conversations) can connect once the person
 * accepts it. Nothing is installed in any trust store.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Certificate {
  readonly certificate: string; // path of the PEM certificate
  readonly key: string; // path of the PEM key
  /** SHA-256 fingerprint as clients show it (AB:CD:…). */
  readonly fingerprint: string;
}

export async function selfSignedCertificate(dir: string, names: readonly string[]): Promise<Certificate> {
  const certificate = join(dir, "localhost.crt");
  const key = join(dir, "localhost.key");
  const san = [...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
    "-subj", `/CN=${names[0] ?? "localhost"}/O=Junction sandbox`, "-addext", `subjectAltName=${san}`,
    "-keyout", key, "-out", certificate,
  ]);
  return { certificate, key, fingerprint: new X509Certificate(readFileSync(certificate)).fingerprint256 };
}
