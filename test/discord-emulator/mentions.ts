/**
 * Who a message actually pings (docs: "Allowed Mentions Object"). Without `allowed_mentions` a
 * user or bot message pings every mentioned user, every mentionable role, and @everyone/@here
 * when the author may (Mention Everyone); a webhook message pings users only (FIELD-NOTES; set
 * `webhookDefaultMentions: "all"` to make a forgotten allowed_mentions ping everything). With
 * `allowed_mentions`, only what `parse` or the `users`/`roles` lists allow, and a reply pings
 * its target's author only with `replied_user: true`.
 */
import type { Guild, Pinged } from "./state.ts";

export interface AllowedMentions { parse?: unknown; users?: unknown; roles?: unknown; replied_user?: unknown }
export interface MentionInput {
  content: string;
  allowed: AllowedMentions | undefined | null;
  /** Undefined in a DM (no roles there). */
  guild: Guild | undefined;
  webhook: boolean;
  mayMentionEveryone: boolean;
  webhookDefault: "users" | "all";
  replyAuthorId: string | null;
}

export type MentionResult = { pinged: Pinged } | { error: Record<string, unknown> };

const invalid = (field: string, message: string): MentionResult => ({
  error: { allowed_mentions: { [field]: { _errors: [{ code: "BASE_TYPE_BAD_VALUE", message }] } } },
});

function ids(v: unknown): string[] | null {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && /^[0-9]+$/.test(x))) return null;
  return v as string[];
}

export function resolveMentions(inp: MentionInput): MentionResult {
  const userIds = [...new Set([...inp.content.matchAll(/<@!?([0-9]{1,20})>/g)].map((m) => m[1]!))];
  const roleIds = [...new Set([...inp.content.matchAll(/<@&([0-9]{1,20})>/g)].map((m) => m[1]!))];
  const everyoneTyped = /@(everyone|here)/.test(inp.content);
  let parse: Set<string>;
  let users: string[] = [], roles: string[] = [];
  let repliedUser: boolean;
  const a = inp.allowed;
  if (a === undefined || a === null) {
    parse = inp.webhook && inp.webhookDefault === "users" ? new Set(["users"]) : new Set(["users", "roles", "everyone"]);
    repliedUser = true;
  } else {
    if (a.parse !== undefined && (!Array.isArray(a.parse) || !a.parse.every((p) => p === "users" || p === "roles" || p === "everyone"))) {
      return invalid("parse", "Value must be one of ('roles', 'users', 'everyone').");
    }
    parse = new Set((a.parse as string[] | undefined) ?? []);
    const u = ids(a.users), r = ids(a.roles);
    if (u === null) return invalid("users", "Must be an array of snowflakes.");
    if (r === null) return invalid("roles", "Must be an array of snowflakes.");
    if (u.length > 100 || r.length > 100) return invalid(u.length > 100 ? "users" : "roles", "Must be 100 or fewer in length.");
    if (parse.has("users") && u.length) return invalid("parse", 'Mutually exclusive: "users" in parse and a users list.');
    if (parse.has("roles") && r.length) return invalid("parse", 'Mutually exclusive: "roles" in parse and a roles list.');
    users = u; roles = r;
    repliedUser = a.replied_user === true;
  }
  const pingedUsers = userIds.filter((id) => parse.has("users") || users.includes(id));
  if (inp.replyAuthorId && repliedUser && !pingedUsers.includes(inp.replyAuthorId)) pingedUsers.push(inp.replyAuthorId);
  const pingedRoles = roleIds.filter((id) => {
    const role = inp.guild?.roles.get(id);
    if (!role || id === inp.guild?.id) return false;
    if (!(parse.has("roles") || roles.includes(id))) return false;
    return role.mentionable || inp.webhook || inp.mayMentionEveryone;
  });
  const everyone = everyoneTyped && parse.has("everyone") && (inp.webhook || inp.mayMentionEveryone);
  return { pinged: { users: pingedUsers, roles: pingedRoles, everyone } };
}
