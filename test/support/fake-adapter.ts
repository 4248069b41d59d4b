import type { Adapter, AdapterHost, Capabilities, DeliveryContext, RemoteIds } from "../../core/adapter.ts";
import { actorId, remoteId, roomRef, type BridgeEvent, type Network, type RoomRef } from "../../core/events.ts";

export const ALL_CAPS: Capabilities = {
  edits: true, retractions: true, reactions: true, replies: true, threads: false, typing: true, presence: true, media: true, richText: true,
};

export interface Sent { room: RoomRef; event: BridgeEvent; ctx: DeliveryContext; ids: RemoteIds }

/** An in-memory network: records what it was asked to send, and can be told to fail. */
export class FakeAdapter implements Adapter {
  readonly network: Network;
  readonly capabilities: Capabilities;
  host!: AdapterHost;
  readonly sent: Sent[] = [];
  /** Decides per send: undefined = succeed, or an error to throw. */
  failWith: ((room: RoomRef, event: BridgeEvent, ctx: DeliveryContext) => Error | undefined) | undefined;
  delay: (() => number) | undefined;
  #n = 0;

  constructor(network: Network, capabilities: Capabilities = ALL_CAPS) {
    this.network = network;
    this.capabilities = capabilities;
  }

  async resolveRoom(configured: string): Promise<RoomRef> { return roomRef(configured); }
  async start(host: AdapterHost): Promise<void> {
    this.host = host;
    host.setReady(true);
  }
  async stop(): Promise<void> {}

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const d = this.delay?.();
    if (d) await new Promise((r) => setTimeout(r, d));
    const err = this.failWith?.(room, event, ctx);
    if (err) throw err;
    // Like the real adapters, the first event of a person makes their puppet here.
    if (!this.host.puppets.get(this.network, event.sender.id)) {
      this.host.puppets.put({ network: this.network, actor: event.sender.id, handle: `puppet:${event.sender.id}` });
    }
    // Like XMPP, the fake names its messages with an id of its own (altId) until the room assigns one.
    const id = `${this.network}-${++this.#n}`;
    const ids: RemoteIds = event.kind === "message" || event.kind === "reaction" ? [{ id: remoteId(id), altId: id, postedAs: `puppet:${event.sender.id}` }] : [];
    this.sent.push({ room, event, ctx, ids });
    return ids;
  }

  /** Emits a native message as a person in `room`. */
  say(room: string, text: string, id: string, extra: Partial<BridgeEvent> = {}, sender = "alice"): Promise<void> {
    return this.host.emit([{
      kind: "message", origin: this.network, room: roomRef(room), sender: { id: actorId(sender), name: sender, isBot: false },
      remoteId: remoteId(id), ts: Date.now(), body: { text }, attachments: [], isAction: false, mentions: [], ...extra,
    } as BridgeEvent]);
  }
}
