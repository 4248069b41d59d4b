/** What the sandbox prints once it is ready: the accounts, and how to connect real clients. */

export interface SandboxInfo {
  xmpp: { port: number; domain: string; account: string; password: string; room: string; certificate: string; fingerprint: string };
  matrix: { url: string; userId: string; user: string; password: string; accessToken: string; alias: string; roomId: string };
  discord: { person: string; channel: string };
  dir: string;
  junctionLog: string;
  /** The component's domain (its ad-hoc commands) and the Matrix bridge bot. */
  component: string;
  bot: string;
}

export function instructions(i: SandboxInfo): string {
  const { xmpp: x, matrix: m } = i;
  const dino = x.port === 5222
    ? `  Dino:       it checks the certificate against the system's trust store and has no host setting (it
              goes to localhost:5222, which is this Prosody). Trust the certificate while you try it:
                sudo cp ${x.certificate} /usr/local/share/ca-certificates/junction-sandbox.crt && sudo update-ca-certificates
              add the account ${x.account} / ${x.password}, join ${x.room}; afterwards:
                sudo rm /usr/local/share/ca-certificates/junction-sandbox.crt && sudo update-ca-certificates --fresh`
    : `  Dino:       it connects only to localhost:5222, which something else holds on this machine: stop that, then
              start the sandbox again (it takes 5222 when it is free).`;
  const send = `${m.url}/_matrix/client/v3/rooms/${encodeURIComponent(m.roomId)}/send/m.room.message/sandbox-$(date +%s%N)`;
  return `
Junction is running: one link, "sandbox", joins an XMPP room, a Matrix room and a Discord channel.
Everything listens on 127.0.0.1 only. Data lives in ${i.dir} and is deleted when you stop.

XMPP (Prosody ${x.domain}, STARTTLS with a self-signed certificate made for this run)
  server 127.0.0.1, port ${x.port}
  account ${x.account}, password ${x.password}
  room    ${x.room}
  certificate ${x.certificate}
              SHA-256 ${x.fingerprint}
              Your client will call it untrusted: accept it once you have compared the fingerprint.
  Profanity:  /connect ${x.account} server 127.0.0.1 port ${x.port}
              it shows the certificate: answer /tls allow; then: /join ${x.room}
  Gajim:      Add account → ${x.account} / ${x.password}; under "Advanced" (Connection): custom host
              127.0.0.1, port ${x.port}; accept the certificate it shows; then join ${x.room}
${dino}
  Conversations (Android, over USB): adb reverse tcp:${x.port} tcp:${x.port}; turn on Settings → Expert
              settings → "Extended connection settings", then add the account ${x.account} / ${x.password}
              with hostname 127.0.0.1, port ${x.port}; tap "Always" on the certificate it shows; join ${x.room}

Matrix (Synapse, server name localhost, plain HTTP on loopback)
  homeserver ${m.url}
  account ${m.user} (${m.userId}), password ${m.password}
  room    ${m.alias} (${m.roomId}), already joined
  Element (Desktop, or Web on this machine): "Sign in" → "Edit" the homeserver → ${m.url},
              then ${m.user} / ${m.password}
  curl:       curl -X PUT -H 'Authorization: Bearer ${m.accessToken}' \\
                -d '{"msgtype":"m.text","body":"hello from curl"}' \\
                "${send}"

Discord (an emulator: no Discord client can reach it, so you chat as ${i.discord.person} below)
  channel #${i.discord.channel}. A line you type here appears in the XMPP and Matrix rooms;
  what is said there appears here.

Admin commands (all three accounts are admins): on XMPP, the ad-hoc commands of ${i.component}
  (Gajim: Execute command; Profanity: /cmd list ${i.component}); on Matrix, invite
  ${i.bot} to a direct chat and write "!junction help"; on Discord, a line starting
  with "!junction" typed below goes to ${i.discord.person}'s DM with the bot, and its answer is shown.

Junction's log: ${i.junctionLog}
Ctrl-C stops everything the sandbox started.
`;
}
