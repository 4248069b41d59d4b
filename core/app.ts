import type { Logger } from "pino";
import type { Adapter, AdapterHost } from "./adapter.ts";
import { Deliverer } from "./delivery.ts";
import { NETWORKS, type Network } from "./events.ts";
import { LinkIndex } from "./links.ts";
import { Ingest } from "./ingest.ts";
import { mediaFetcher, mediaHttp, type MediaConfig } from "./media/fetcher.ts";
import { HttpServer, type HttpServerConfig } from "./http.ts";
import { Metrics } from "./metrics.ts";
import { PublicMedia } from "./public-media.ts";
import { Queues } from "./queues.ts";
import { registerAdapters } from "./registry.ts";
import { RoomResolver } from "./resolve.ts";
import { Router } from "./router.ts";
import { Store } from "./store/store.ts";

/** The part of the config the core reads (config/schema.ts's Config satisfies it). */
export interface CoreConfig {
  readonly store: { readonly path: string };
  readonly links: Readonly<Record<string, Readonly<Partial<Record<Network, readonly string[]>>>>>;
  /** Defaults (no allowances, 100 MiB) when absent. */
  readonly media?: MediaConfig;
  /** Junction's one HTTP server (signed media URLs now; metrics and health later). */
  readonly http?: HttpServerConfig | undefined;
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
  stop(): Promise<void>;
}

const SEEN_KEEP_MS = 7 * 24 * 3600_000;
const STOP_GRACE_MS = 5000;

export async function runJunction(config: CoreConfig, adapterList: readonly Adapter[], log: Logger): Promise<RunningJunction> {
  const adapters = registerAdapters(adapterList);
  for (const [name, link] of Object.entries(config.links)) {
    for (const network of NETWORKS) {
      if ((link[network]?.length ?? 0) > 0 && !adapters.has(network)) {
        throw new Error(`link "${name}" has ${network} rooms but no ${network} adapter is configured`);
      }
    }
  }
  const media = mediaHttp(config.media, adapters.values());
  const store = new Store(config.store.path);
  store.onDeferredError = (err) => log.error({ err }, "a deferred store write failed; it was skipped");
  const resolver = new RoomResolver(log);
  try {
    const links = new LinkIndex(await resolver.resolveAll(config.links, adapters));
    const saveLinks = () => store.saveLinks(links.all().flatMap((l) => l.rooms.map((r) => ({ name: l.name, network: r.network, configured: r.room, room: r.room }))));
    saveLinks();
    const router = new Router(store, links, log);
    // The depth gauge reads the queues, and the queues report into the metrics.
    let queues: Queues;
    const metrics = new Metrics({ outboxDepth: () => queues.depth(), puppets: () => store.puppets.count() });
    const fetchMedia = mediaFetcher(adapters, media);
    queues = new Queues(new Deliverer(store, adapters, fetchMedia, metrics), store, log, metrics);
    let http: HttpServer | undefined;
    let publicMedia: PublicMedia | undefined;
    if (config.http) {
      http = new HttpServer(config.http, log.child({ part: "http" }));
      const pm = new PublicMedia(http.publicUrl, store.secret("public-media"), fetchMedia);
      http.mount(pm.prefix, (req, res, rest) => pm.serve(req, res, rest));
      await http.listen();
      publicMedia = pm;
    }
    const connected = new Map<Network, boolean>();
    let stopping = false;

    const ingest = new Ingest(store, router, queues);
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
      puppets: store.puppets,
      media,
      publicMedia: (origin, url, name) => publicMedia?.urlFor(origin, url, name),
    });

    resolver.start(({ link, room }) => {
      if (stopping) return;
      links.addRoom(link, room);
      saveLinks();
      const adapter = adapters.get(room.network);
      adapter?.linkRoom?.(room.room).catch((err: unknown) => log.error({ err, network: room.network, room: room.room }, "the adapter could not take up a room that joined its link"));
    });
    for (const a of adapters.values()) connected.set(a.network, false);
    await Promise.all([...adapters.values()].map(async (a) => {
      try {
        await a.start(hostFor(a.network));
      } catch (err) {
        log.error({ err, network: a.network }, "adapter failed to start; its rooms wait until it connects");
      }
    }));

    const prune = setInterval(() => store.pruneSeen(Date.now() - SEEN_KEEP_MS), 3600_000);
    prune.unref();

    return {
      store, queues, links, metrics, http,
      connected: () => connected,
      async stop() {
        if (stopping) return;
        stopping = true;
        resolver.stop();
        clearInterval(prune);
        ingest.flush();
        await queues.stop(STOP_GRACE_MS);
        await Promise.allSettled([...adapters.values()].map((a) => a.stop()));
        await http?.close();
        store.close();
        await media.close();
        log.info("stopped");
      },
    };
  } catch (err) {
    resolver.stop();
    store.close();
    await media.close();
    throw err;
  }
}
