/**
 * The admin commands' answers in words, one wording for every network: Matrix replies with these
 * lines, XMPP ad-hoc commands put them in their notes and forms.
 */
import { RELOAD_UNAVAILABLE, type LinkStatus, type LinkSummary, type PauseOutcome, type ReloadOutcome, type RetryOutcome, type StatusReport } from "./steering.ts";
import { ago } from "./status-page.ts";

export function linkLine(l: LinkSummary): string {
  const rooms = l.rooms.map((r) => `${r.network} ${r.room}`).join(", ");
  return `${l.name}${l.paused ? " (paused)" : ""}: ${rooms}; ${l.queued} queued, ${l.failed} failed`;
}

export function linksText(links: readonly LinkSummary[]): string {
  return links.length === 0 ? "No links are configured." : links.map(linkLine).join("\n");
}

/** One line per room of a link: joined or not, its queue, last delivery and failure. */
export function roomLines(l: LinkStatus, now = Date.now()): string[] {
  return l.rooms.map((r) => {
    const state = r.joined ? "joined" : `not joined${r.error ? ` (${r.error})` : ""}`;
    const failure = r.lastFailure ? `; last failure ${ago(r.lastFailure.at, now)}: ${r.lastFailure.reason}` : "";
    return `${r.network} ${r.room}: ${state}, ${r.depth} queued, last delivery ${ago(r.lastDelivery, now)}${failure}`;
  });
}

export function pausedText(l: LinkStatus, now = Date.now()): string {
  if (!l.paused) return "active";
  return l.pausedBy ? `paused by ${l.pausedBy.by} ${ago(l.pausedBy.at, now)}` : "paused";
}

export function statusText(report: StatusReport, now = Date.now()): string {
  const networks = report.networks.map((n) => `${n.network}: ${n.connected ? "connected" : `disconnected${n.lastError ? ` (${n.lastError})` : ""}`} since ${ago(n.since, now)}`);
  const links = report.links.flatMap((l) => [
    `Link ${l.name}: ${pausedText(l, now)}; ${l.queued} queued, ${l.failed} failed`,
    ...roomLines(l, now).map((line) => `  ${line}`),
  ]);
  return [...networks, ...links].join("\n");
}

export function retryText(r: RetryOutcome): string {
  if (r.requeued === 0) return `${r.link} has no failed deliveries to retry.`;
  return `${r.requeued} failed ${r.requeued === 1 ? "delivery" : "deliveries"} of ${r.link} put back in their queues` +
    `${r.more ? " (more are left: run retry again)" : ""}.`;
}

export function pauseText(p: PauseOutcome): string {
  if (p.paused) return p.changed ? `${p.link} is paused: its deliveries wait in the outbox (${p.queued} now) until resume.` : `${p.link} was already paused (${p.queued} waiting).`;
  return p.changed ? `${p.link} is resumed: ${p.queued} held ${p.queued === 1 ? "delivery goes" : "deliveries go"} out now.` : `${p.link} was not paused.`;
}

export function reloadText(r: ReloadOutcome): string {
  if (!r.applied) return r.reason === RELOAD_UNAVAILABLE ? `Not reloaded: ${r.reason}.` : `The new config was refused; the running one stays:\n${r.reason}`;
  const parts = [["added", r.added], ["removed", r.removed], ["changed", r.changed]] as const;
  const said = parts.filter(([, names]) => names.length > 0).map(([what, names]) => `${what} ${names.join(", ")}`);
  return `Config reloaded: ${said.length > 0 ? said.join("; ") : "no link changed"}.`;
}
