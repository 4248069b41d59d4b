/**
 * One webhook per linked channel, owned by our application: found (a restart, or a second
 * install of the same bot) or created, and kept in the puppet directory (`webhook:<channel>` →
 * id, token) so it is never looked up per message. The same records say which webhook messages
 * are our own echoes, also across restarts.
 */
import { Routes, type REST } from "discord.js";
import type { Logger } from "pino";
import type { PuppetDirectory } from "../../core/adapter.ts";
import { actorId } from "../../core/events.ts";

export interface Webhook { readonly id: string; readonly token: string }

const actorFor = (channel: string) => actorId(`webhook:${channel}`);
const NAME = "Junction";

interface RawWebhook { id: string; token?: string; application_id?: string | null; channel_id?: string }

export class Webhooks {
  readonly #rest: REST;
  readonly #puppets: () => PuppetDirectory;
  readonly #applicationId: () => string;
  readonly #log: Logger;
  readonly #pending = new Map<string, Promise<Webhook>>();
  #ours: Set<string> | undefined;

  constructor(rest: REST, puppets: () => PuppetDirectory, applicationId: () => string, log: Logger) {
    this.#rest = rest;
    this.#puppets = puppets;
    this.#applicationId = applicationId;
    this.#log = log;
  }

  /** Whether a message's webhook id is one of ours (any channel, any time). */
  isOurWebhook(webhookId: string): boolean {
    this.#ours ??= new Set(this.#puppets().all("discord").filter((p) => p.actor.startsWith("webhook:")).map((p) => p.handle));
    return this.#ours.has(webhookId);
  }

  get(channel: string): Webhook | undefined {
    const rec = this.#puppets().get("discord", actorFor(channel));
    const token = rec?.data?.token;
    return rec && typeof token === "string" ? { id: rec.handle, token } : undefined;
  }

  /** The channel's webhook, found or created once (concurrent callers share the request). */
  ensure(channel: string): Promise<Webhook> {
    const known = this.get(channel);
    if (known) return Promise.resolve(known);
    let p = this.#pending.get(channel);
    if (!p) {
      p = this.#findOrCreate(channel).finally(() => this.#pending.delete(channel));
      this.#pending.set(channel, p);
    }
    return p;
  }

  /** Discord says the webhook is gone (deleted by an admin): forget it, the next send makes a new one. */
  forget(channel: string, id: string): void {
    if (this.get(channel)?.id !== id) return;
    // The id stays recorded (as retired) so that its old messages are still known as ours.
    this.#puppets().put({ network: "discord", actor: actorId(`webhook:${channel}:retired:${id}`), handle: id });
    this.#puppets().put({ network: "discord", actor: actorFor(channel), handle: id, data: { retired: true } });
    this.#log.warn({ room: channel, webhook: id }, "our webhook in this channel is gone; making a new one");
  }

  async #findOrCreate(channel: string): Promise<Webhook> {
    const app = this.#applicationId();
    const list = await this.#rest.get(Routes.channelWebhooks(channel)) as RawWebhook[];
    const retired = new Set(this.#puppets().all("discord").filter((p) => p.actor.startsWith(`webhook:${channel}:retired:`)).map((p) => p.handle));
    const mine = list.find((w) => w.application_id === app && typeof w.token === "string" && !retired.has(w.id));
    const hook = mine ?? await this.#rest.post(Routes.channelWebhooks(channel), { body: { name: NAME }, reason: "Junction speaks for people on other networks here" }) as RawWebhook;
    if (typeof hook.token !== "string") throw new Error(`Discord gave webhook ${hook.id} without a token`);
    this.#puppets().put({ network: "discord", actor: actorFor(channel), handle: hook.id, data: { token: hook.token } });
    this.#ours?.add(hook.id);
    this.#log.info({ room: channel, webhook: hook.id, found: mine !== undefined }, mine ? "using our webhook in this channel" : "created a webhook in this channel");
    return { id: hook.id, token: hook.token };
  }
}
