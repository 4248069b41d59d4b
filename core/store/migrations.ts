/**
 * Numbered schema migrations. Each runs once, in order, inside a transaction; `PRAGMA user_version`
 * records how far a database has come. Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE links (
    name TEXT NOT NULL,
    network TEXT NOT NULL,
    configured TEXT NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (network, room)
  );

  -- One row per bridged message (or reaction): the thing that exists once, whatever its copies.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    link TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'reaction')),
    origin_network TEXT NOT NULL,
    origin_room TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    excerpt TEXT NOT NULL DEFAULT '',
    reaction_to INTEGER,
    emoji TEXT,
    removed INTEGER NOT NULL DEFAULT 0,
    ts INTEGER NOT NULL
  );
  CREATE INDEX messages_reactions ON messages (reaction_to, sender, emoji) WHERE kind = 'reaction';

  -- Each copy of a message: its native id in one room, on the origin or where we delivered it.
  CREATE TABLE message_map (
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    alt_id TEXT,
    author TEXT,  -- the identity the copy is posted as (postedAs in the code)
    bridged INTEGER NOT NULL,
    PRIMARY KEY (network, room, remote_id)
  ) WITHOUT ROWID;
  CREATE INDEX message_map_by_message ON message_map (message_id, network, room);
  CREATE INDEX message_map_by_alt ON message_map (network, room, alt_id) WHERE alt_id IS NOT NULL;

  -- Deliveries not yet done (state pending) or given up on (state failed, with the reason).
  -- AUTOINCREMENT: ids are idempotency keys (Matrix txnId, XMPP message id) and must never be
  -- handed out again after a delivered row is deleted.
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link TEXT NOT NULL,
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    message_id INTEGER,
    event TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created INTEGER NOT NULL
  );
  CREATE INDEX outbox_pending ON outbox (network, room, id) WHERE state = 'pending';

  CREATE TABLE puppets (
    network TEXT NOT NULL,
    actor TEXT NOT NULL,
    handle TEXT NOT NULL,
    profile_hash TEXT,
    data TEXT,
    PRIMARY KEY (network, actor)
  );

  CREATE TABLE cursors (
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (network, room)
  );

  -- Keys of inbound batches already committed (Matrix transaction ids), so a resend is a no-op.
  CREATE TABLE seen (
    key TEXT PRIMARY KEY,
    ts INTEGER NOT NULL
  );
  `,
  // 2: Junction's own settings (the key that signs public media URLs, so they survive a restart).
  `
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 3: parts of a multi-part delivery (text + files) with their role; erased text of retracted
  // messages; when each row was written (retention counts from here, not from a date the
  // origin's client chose).
  `
  ALTER TABLE message_map ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE message_map ADD COLUMN role TEXT NOT NULL DEFAULT 'text' CHECK (role IN ('text', 'file'));
  ALTER TABLE messages ADD COLUMN retracted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
  UPDATE messages SET created = ts;
  CREATE INDEX messages_by_created ON messages (created);
  CREATE INDEX outbox_failed ON outbox (created) WHERE state = 'failed';
  CREATE INDEX outbox_by_message ON outbox (message_id) WHERE message_id IS NOT NULL;
  `,
  // 4: puppet avatars by content hash, read when asked for instead of sitting in every puppet's
  // record (and so in memory) as base64.
  `
  CREATE TABLE avatars (
    sha1 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    data BLOB NOT NULL,
    created INTEGER NOT NULL
  );
  `,
  // 5: message_map becomes copies, a rowid table with the room interned (places): its three
  // b-trees had keys of network, room JID and native id (the room again inside XMPP's), and
  // every secondary index carried that primary key. A burst's commits were most of Junction's
  // store time, and a commit writes every page it touched: 5.4 WAL frames per message before,
  // 3.7 after, in bench/store-micro.ts. The index by the client's own id (alt_id) leaves out the
  // copies whose alt_id is their native id (ours): those are found by copies_by_remote.
  `
  CREATE TABLE places (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    UNIQUE (network, room)
  );
  CREATE TABLE copies (
    id INTEGER PRIMARY KEY,
    place INTEGER NOT NULL REFERENCES places (id),
    remote_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    alt_id TEXT,
    posted_as TEXT,
    bridged INTEGER NOT NULL,
    part INTEGER NOT NULL DEFAULT 0,
    role TEXT NOT NULL DEFAULT 'text' CHECK (role IN ('text', 'file'))
  );
  INSERT INTO places (network, room) SELECT DISTINCT network, room FROM message_map ORDER BY network, room;
  INSERT INTO copies (place, remote_id, message_id, alt_id, posted_as, bridged, part, role)
    SELECT places.id, m.remote_id, m.message_id, m.alt_id, m.author, m.bridged, m.part, m.role
    FROM message_map AS m JOIN places ON places.network = m.network AND places.room = m.room
    ORDER BY m.message_id, m.part;
  DROP TABLE message_map;
  CREATE UNIQUE INDEX copies_by_remote ON copies (place, remote_id);
  CREATE INDEX copies_by_message ON copies (message_id, place);
  CREATE INDEX copies_by_alt ON copies (place, alt_id) WHERE alt_id IS NOT NULL AND alt_id <> remote_id;
  `,
];
