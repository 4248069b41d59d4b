import type { Logger } from "pino";
import type { Adapter, AdapterHost } from "./adapter.ts";
import { Deliverer } from "./delivery.ts";
import { reasonOf } from "./errors.ts";
import type { Network } from "./events.ts";
import { LinkIndex } from "./links.ts";
import { Ingest } from "./ingest.ts";
import { mediaFetcher, mediaHttp, type MediaConfig } from "./media/fetcher.ts";
import { HttpServer, type HttpServerConfig } from "./http.ts";
import { mountAdmin } from "./admin-http.ts";
import { AdminDesk, type AdminList } from "./admin.ts";
import { Metrics } from "./metrics.ts";
import { deliveryPace, Pacer } from "./pacing.ts";
import { Progress } from "./progress.ts";
import { PublicMedia } from "./public-media.ts";
import { Queues } from "./queues.ts";
import { DEFAULT_RETRY } from "./retry.ts";
import { registerAdapters } from "./registry.ts";
import type { ReloadOutcome } from "./reload.ts";
import { missingAdapter, Reloader } from "./reloader.ts";
import { RoomResolver } from "./resolve.ts";
import { Router } from "./router.ts";
import { Pruning } from "./pruning.ts";
import type { Pruned } from "./store/retention.ts";
import { Status } from "./status.ts";
import { CoreSteering, RELOAD_UNAVAILABLE, type Steering } from "./steering.ts";
import { Store } from "./store/store.ts";

/** The part of the config the core reads (config/schema.ts's Config satisfies it). */
export interface CoreConfig {
  /** `retentionDays`: 0 keeps everything; absent means the default (90). */
  readonly store: { readonly path: string; readonly retentionDays?: number };
  readonly delivery?: {
    readonly maxAttempts: number;
    readonly maxAgeHours: number;
    readonly puppetsPerSecond?: number;
    readonly joinsPerSecond?: number;
  };
  readonly links: Readonly<Record<string, Readonly<Partial<Record<Network, readonly string[]>>>>>;
  /** Defaults (no allowances, 100 MiB) when absent. */
  readonly media?: MediaConfig;
  /** Junction's one HTTP server: signed media URLs, the status page, /metrics and /health. */
  readonly http?: HttpServerConfig | undefined;
  /** Who may use the admin commands, per network (XMPP bare JIDs, Matrix user ids). */
  readonly admin?: AdminList | undefined;
}

export interface RunningJunction {
  readonly store: Store;
  readonly queues: Queues;
  readonly links: LinkIndex;
  readonly metrics: Metrics;
  /** The HTTP server's address, when one is configured. */
  readonly http: HttpServer | undefined;
  /** Whether each configured network is connected (for health checks). */
  connected(): ReadonlyMap<Network, boolean>;
  /** Deletes what is older than the retention now (it also runs hourly). */
  prune(now?: number): Promise<Pruned>;
  /** Networks, rooms and failures, as /health and the status page show them. */
  readonly status: Status;
  /** What the admin commands do (list, status, retry, pause, resume, reload). */
  readonly steering: Steering;
  /**
   * Re-reads the config file Junction was started with and applies its links (SIGHUP does the
   * same); an invalid file is refused with check-config's message and the running config stays.
   */
  reload(): Promise<ReloadOutcome>;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5000;
const DEFAULT_RETENTION_DAYS = 90;

/**
 * How much work one room or one sender may cause per second; the excess waits (see pacing.ts).
 * Joins, leaves and profile changes committed per origin room (delivery.joinsPerSecond, bursts
 * of five times that); puppets or ghosts made per destination room (delivery.puppetsPerSecond,
 * bursts of four times that); joins, leaves and profile changes of one person delivered per room.
 */
const JOINS_PER_SECOND = 20;
const PUPPETS_PER_SECOND = 5;

export interface RunOptions {
  /**
   * Reads the config file again and checks it as check-config does, throwing with its message:
   * what `reload()` (and SIGHUP) applies. Without it, a reload is refused.
   */
  readonly reread?: () => Promise<CoreConfig>;
}

export async function runJunction(config: CoreConfig, adapterList: readonly Adapter[], log: Logger, opts: RunOptions = {}): Promise<RunningJunction> {
  const adapters = registerAdapters(adapterList);
  const missing = missingAdapter(config.links, adapters);
  if (missing) throw new Error(missing);
  // One media client per network, each allowed only its own servers besides config's: an XMPP
  // person's OOB link must not reach the Matrix homeserver's private address because the Matrix
  // adapter may fetch from there. `media` is for origins without an adapter of their own.
  const media = mediaHttp(config.media);
  const mediaOf = new Map([...adapters.values()].map((a) => [a.network, mediaHttp(config.media, [a])]));
  const closeMedia = () => Promise.all([media, ...mediaOf.values()].map((m) => m.close()));
  const store = new Store(config.store.path);
  store.onDeferredError = (err) => log.error({ err }, "a deferred store write failed; it was skipped");
  const resolver = new RoomResolver(log);
  try {
    const policy = config.delivery
      ? { maxAttempts: config.delivery.maxAttempts, maxAgeMs: config.delivery.maxAgeHours * 3600_000 }
      : DEFAULT_RETRY;
    const links = new LinkIndex(await resolver.resolveAll(config.links, adapters));
    const saveLinks = () => store.saveLinks(links.all().flatMap((l) => l.rooms.map((r) => ({ name: l.name, network: r.network, configured: r.room, room: r.room }))));
    saveLinks();
    const router = new Router(store, links, log);
    // The gauges read the queues and the status, and the queues report into the metrics.
    let queues: Queues;
    let status: Status;
    const metrics = new Metrics({
      outboxDepth: () => queues.depth(), puppets: (n) => store.puppets.count(n), networks: () => [...adapters.keys()],
      rooms: () => status.snapshot().links.flatMap((l) => l.rooms),
    });
    store.onDeferredError = (err) => {
      metrics.storeErrors.inc({ what: "deferred write" });
      log.error({ err }, "a deferred store write failed; it was skipped");
    };
    store.onCommitError = (err, writes, retryInMs) => {
      metrics.storeErrors.inc({ what: "commit" });
      if (retryInMs !== undefined) log.error({ err, writes, retryInMs }, "committing delivery bookkeeping failed (is the disk full?); trying again");
      else log.error({ err, writes }, "committing delivery bookkeeping kept failing; those writes are dropped (their deliveries are sent again after a restart)");
    };
    const fetchMedia = mediaFetcher(adapters, (origin) => mediaOf.get(origin) ?? media);
    const deliverer = new Deliverer(store, adapters, fetchMedia, metrics);
    const puppetsPerSecond = config.delivery?.puppetsPerSecond ?? PUPPETS_PER_SECOND;
    const joinsPerSecond = config.delivery?.joinsPerSecond ?? JOINS_PER_SECOND;
    queues = new Queues(deliverer, store, log, metrics, policy, deliveryPace(store, { perSecond: puppetsPerSecond, burst: puppetsPerSecond * 4 }));
    status = new Status({ adapters, links, queues, failed: (limit) => store.outbox.failed(limit) });
    const progress = new Progress(log, metrics);
    let http: HttpServer | undefined;
    let publicMedia: PublicMedia | undefined;
    if (config.http) {
      http = new HttpServer(config.http, log.child({ part: "http" }));
      const pm = new PublicMedia(http.publicUrl, store.secret("public-media"), fetchMedia);
      http.mount(pm.prefix, (req, res, rest) => pm.serve(req, res, rest));
      mountAdmin(http, status, metrics, config.http, log.child({ part: "http" }));
      await http.listen();
      publicMedia = pm;
    }
    const connected = new Map<Network, boolean>();
    let stopping = false;

    const ingest = new Ingest(store, router, queues, new Pacer({ perSecond: joinsPerSecond, burst: joinsPerSecond * 5 }));
    // The reloader is made below, once the resolver and the hosts exist; the steering calls it later.
    const steering = new CoreSteering({ links, queues, store, status, reload: () => reloader.reload() });
    const admin = new AdminDesk(config.admin, steering, log.child({ part: "admin" }));
    const { paused, unconfigured } = steering.restorePaused();
    if (paused.length > 0) log.warn({ links: paused }, "links paused by an admin stay paused: their deliveries wait for a resume");
    if (unconfigured.length > 0) {
      log.warn({ links: unconfigured }, "links paused by an admin and since removed from the config: their deliveries stay held in the outbox; resume them to let them go");
    }
    const pending = store.outbox.pending();
    if (pending.length > 0) log.info({ pending: pending.length }, "resuming deliveries left in the outbox");
    queues.enqueue(pending);

    const hostFor = (network: Network): AdapterHost => ({
      log: log.child({ network }),
      async emit(events, opts) {
        if (stopping) throw new Error("Junction is stopping; not taking new events");
        for (const e of events) metrics.eventsIn.inc({ network, kind: e.kind });
        await ingest.emit(network, events, opts);
      },
      setReady(ready) {
        connected.set(network, ready);
        status.setConnected(network, ready);
        metrics.connected.set({ network }, ready ? 1 : 0);
        log.info({ network, ready }, ready ? "network ready" : "network not ready");
        queues.setReady(network, ready);
        if (ready) resolver.retryNow(network);
      },
      rooms: () => links.roomsOn(network),
      findMessage: (room, by) => {
        store.flush();
        return store.messages.find(network, room, by);
      },
      addAlias: (room, knownId, newRemoteId) => store.defer(() => store.messages.addAlias(network, room, knownId, newRemoteId)),
      cursor: (room) => store.cursor(network, room),
      reactions: (room, target, actor) => {
        store.flush();
        const id = store.messages.idOf(network, room, target);
        return id === undefined ? [] : store.messages.reactionSet(id, actor);
      },
      deliveryFailed(room, remoteId, error) {
        const reason = reasonOf(error);
        try {
          store.flush();
          // The bounced part is forgotten here, so a retry sends it (and only it) again, and an
          // edit or retraction never points at a message the room does not have.
          const copy = store.messages.copyOf(network, room, remoteId);
          if (copy) store.tx(() => store.messages.removePart(copy.messageId, network, room, copy.part));
          const recent = deliverer.recent.find(network, room, remoteId);
          if (recent?.reopened) return;
          if (!recent) {
            metrics.failures.inc({ network, cause: "bounced" });
            log.warn({ network, room, remoteId, reason }, "the room bounced a delivery done too long ago to retry; recorded as not delivered");
            return;
          }
          recent.reopened = true;
          queues.reopen(recent.row, error);
        } catch (err) {
          log.error({ err, network, room, remoteId, reason }, "could not record a bounced delivery");
        }
      },
      puppets: store.puppets,
      avatars: store.avatars,
      uploads: store.uploads,
      media: mediaOf.get(network) ?? media,
      publicMedia: (origin, url, name) => publicMedia?.urlFor(origin, url, name),
      progress: (operation, done, total, extra) => progress.report(network, operation, done, total, extra),
      admin,
    });

    const reloader = new Reloader(config, {
      log, adapters, links, resolver, queues, saveLinks, stopping: () => stopping,
      reread: opts.reread ?? (() => Promise.reject(new Error(RELOAD_UNAVAILABLE))),
    });
    resolver.start(({ link, room }) => {
      if (stopping || !links.has(link)) return;
      links.addRoom(link, room);
      saveLinks();
      const adapter = adapters.get(room.network);
      adapter?.linkRoom?.(room.room).catch((err: unknown) => log.error({ err, network: room.network, room: room.room }, "the adapter could not take up a room that joined its link"));
    });
    for (const a of adapters.values()) {
      connected.set(a.network, false);
      status.setConnected(a.network, false);
      metrics.connected.set({ network: a.network }, 0);
    }
    await Promise.all([...adapters.values()].map(async (a) => {
      try {
        await a.start(hostFor(a.network));
      } catch (err) {
        log.error({ err, network: a.network }, "adapter failed to start; its rooms wait until it connects");
      }
    }));

    const pruning = new Pruning(store, metrics, log, config.store.retentionDays ?? DEFAULT_RETENTION_DAYS);
    pruning.start(() => stopping);

    // Each step of a stop runs even when one before it failed (a full disk must not keep the
    // adapters connected or the database open).
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, `stopping: ${what} failed`);
      }
    };

    return {
      store, queues, links, metrics, http, status, steering,
      connected: () => connected,
      prune: (now) => pruning.prune(now),
      reload: () => reloader.reload(),
      async stop() {
        if (stopping) return;
        stopping = true;
        resolver.stop();
        pruning.stop();
        await step("committing pending events", () => { ingest.stop(); ingest.flush(); });
        await step("waiting for deliveries in flight", () => queues.stop(STOP_GRACE_MS));
        await Promise.all([...adapters.values()].map((a) => step(`stopping the ${a.network} adapter`, () => a.stop())));
        await step("closing the HTTP server", () => http?.close());
        await step("closing the store", () => store.close());
        await step("closing the media clients", closeMedia);
        log.info("stopped");
      },
    };
  } catch (err) {
    resolver.stop();
    store.close();
    await closeMedia();
    throw err;
  }
}
