/**
 * The status page at `/`: server-rendered HTML that reads without JavaScript and reloads itself
 * (meta refresh). Everything shown comes from the status snapshot; room names, reasons and errors
 * may have been written by anyone on a network, so every piece of text is escaped. Nothing
 * secret is on it (no tokens, no config values other than room names).
 */
import type { Problem, Snapshot } from "./status.ts";

export const REFRESH_SECONDS = 10;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** "3 min ago" style, against the snapshot's time. */
export function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** At most `max` characters of someone's text, for a table cell. */
function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const when = (ms: number | undefined, now: number): string =>
  ms === undefined ? "never" : `<time datetime="${new Date(ms).toISOString()}">${ago(ms, now)}</time>`;

export function renderStatusPage(snap: Snapshot, problems: readonly Problem[]): string {
  const e = escapeHtml;
  const now = snap.at;
  const verdict = problems.length === 0
    ? `<p class="ok" id="verdict">All networks connected and all linked rooms joined.</p>`
    : `<p class="bad" id="verdict">${problems.length} problem${problems.length === 1 ? "" : "s"}: ${problems.map((p) => e(p.room ? `${p.network} room ${p.room} ${p.state}` : `${p.network} ${p.state}`)).join("; ")}</p>`;
  const networks = snap.networks.map((n) =>
    `<tr class="${n.connected ? "ok" : "bad"}"><td>${e(n.network)}</td><td>${n.connected ? "connected" : "disconnected"}</td>` +
    `<td>${when(n.since, now)}</td><td>${e(clip(n.lastError ?? "", 400))}</td></tr>`).join("\n");
  const links = snap.links.map((link) => {
    const rows = link.rooms.map((r) => {
      const failure = r.lastFailure ? `${when(r.lastFailure.at, now)}: ${e(clip(r.lastFailure.reason))}${r.lastFailure.cause === "retrying" ? " (retrying)" : ` (given up: ${r.lastFailure.cause})`}` : "none";
      return `<tr class="${r.joined ? "ok" : "bad"}"><td>${e(r.network)}</td><td>${e(r.room)}</td>` +
        `<td>${r.joined ? "joined" : `not joined${r.error ? `: ${e(clip(r.error))}` : ""}`} (${when(r.since, now)})</td>` +
        `<td>${r.depth}</td><td>${when(r.lastDelivery, now)}</td><td>${failure}</td></tr>`;
    }).join("\n");
    const paused = link.paused ? ` <small class="paused">(paused by an admin: deliveries wait until resumed)</small>` : "";
    return `<h3>${e(link.name)}${paused}</h3>\n<table><thead><tr><th>Network</th><th>Room</th><th>State</th><th>Queued</th><th>Last delivery</th><th>Last failure</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
  }).join("\n");
  const failures = snap.failures.length === 0 ? "<p>None.</p>"
    : `<table><thead><tr><th>Outbox id</th><th>Link</th><th>Network</th><th>Room</th><th>Attempts</th><th>Reason</th></tr></thead>\n<tbody>\n${
      snap.failures.map((f) => `<tr><td>${f.id}</td><td>${e(f.link)}</td><td>${e(f.network)}</td><td>${e(f.room)}</td><td>${f.attempts}</td><td>${e(clip(f.error))}</td></tr>`).join("\n")
    }\n</tbody></table>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Junction status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin-bottom: 1rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
tr.bad td:first-child, p.bad { border-left: .4rem solid #c33; }
tr.ok td:first-child, p.ok { border-left: .4rem solid #3a3; }
p.ok, p.bad { padding-left: .5rem; }
</style>
</head>
<body>
<h1>Junction status</h1>
${verdict}
<p>As of <time datetime="${new Date(now).toISOString()}">${new Date(now).toISOString()}</time>; this page reloads every ${REFRESH_SECONDS} s. Also: <a href="health">health</a>, <a href="metrics">metrics</a>.</p>
<h2>Networks</h2>
<table><thead><tr><th>Network</th><th>State</th><th>Since</th><th>Last error</th></tr></thead>
<tbody>
${networks}
</tbody></table>
<h2>Links</h2>
${links || "<p>No links configured.</p>"}
<h2>Recent permanent failures</h2>
${failures}
</body>
</html>
`;
}
