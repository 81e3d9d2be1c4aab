-- 0001: meowgate's own tables. whatsmeow's device store (whatsmeow_* tables)
-- lives in the same file and is migrated by its own sqlstore upgrades.
--
-- Conventions: times are unix milliseconds (INTEGER, 0 = unset); JSON is TEXT;
-- strings that may be absent are NOT NULL DEFAULT '' so Go scans plain strings.
-- Every foreign key column leads some index: without one, each cascaded
-- delete of a parent row would scan the child table.
-- No CHECK on status columns whose set of values will grow: changing a CHECK
-- means rebuilding the table in SQLite.

-- Marks the file as ours ("meow"), so Open can refuse another app's database.
PRAGMA application_id = 1835364215;

CREATE TABLE instances (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE, -- case-sensitive (BINARY collation)
    device_name TEXT    NOT NULL DEFAULT '',
    phone       TEXT    NOT NULL DEFAULT '', -- E.164 given at create, may be ''
    jid         TEXT    NOT NULL DEFAULT '', -- whatsmeow device JID once paired
    lid         TEXT    NOT NULL DEFAULT '',
    push_name   TEXT    NOT NULL DEFAULT '',
    token_hash  TEXT    NOT NULL DEFAULT '', -- hex sha256 of the instance token
    settings    TEXT    NOT NULL DEFAULT '{}',
    webhook     TEXT    NOT NULL DEFAULT '{}',
    proxy_url   TEXT    NOT NULL DEFAULT '',
    desired     TEXT    NOT NULL DEFAULT 'stopped' CHECK (desired IN ('running', 'stopped')),
    state       TEXT    NOT NULL DEFAULT 'created',
    reason      TEXT    NOT NULL DEFAULT '',
    state_since INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX instances_token_hash ON instances (token_hash) WHERE token_hash <> '';
CREATE INDEX instances_created_at ON instances (created_at);

-- The event log: the single source for webhooks, SSE and replay.
-- AUTOINCREMENT so ids are never reused, even after the newest rows are deleted:
-- clients resume with ?after=<id> / Last-Event-ID.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    data        TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_instance_id ON events (instance_id, id);

-- Messages in both directions; outgoing rows double as the send queue.
-- seq gives a stable order for the queue and for history paging (rowid alone
-- may be renumbered by VACUUM). The WhatsApp id is unique per instance only:
-- two instances in the same group receive the same message id.
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL, -- WhatsApp message id; fixed at enqueue for outgoing
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    chat            TEXT    NOT NULL DEFAULT '', -- chat JID
    sender          TEXT    NOT NULL DEFAULT '', -- sender JID
    recipient       TEXT    NOT NULL DEFAULT '', -- as given by the client (+E164 or JID)
    type            TEXT    NOT NULL DEFAULT 'text',
    text            TEXT    NOT NULL DEFAULT '',
    summary         TEXT    NOT NULL DEFAULT '{}', -- JSON: request details / digest of a received message
    reply_to        TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL, -- queued, sending, sent, delivered, read, played, failed, expired, canceled, received
    error           TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT, -- NULL when the client sent none
    attempts        INTEGER NOT NULL DEFAULT 0,
    send_at         INTEGER NOT NULL DEFAULT 0, -- not before; 0 = at once
    expires_at      INTEGER NOT NULL DEFAULT 0, -- queue_ttl deadline; 0 = never
    lease_until     INTEGER NOT NULL DEFAULT 0, -- a sender claimed it until then
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (instance_id, id)
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (instance_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_queue ON messages (instance_id, send_at, seq) WHERE status = 'queued';
CREATE INDEX messages_history ON messages (instance_id, seq);
CREATE INDEX messages_chat ON messages (instance_id, chat, seq);

-- Status history of a message, oldest first.
CREATE TABLE message_status (
    instance_id TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    FOREIGN KEY (instance_id, message_id) REFERENCES messages (instance_id, id) ON DELETE CASCADE
);
CREATE INDEX message_status_message ON message_status (instance_id, message_id, at);

-- How far the webhook worker has read each instance's event log.
CREATE TABLE webhook_cursors (
    instance_id TEXT    NOT NULL PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    event_id    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

-- One row per event handed to the webhook; its id on the wire is event_id.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending', -- pending, delivered, failed (dead)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0, -- HTTP status of the last attempt; 0 = none
    last_error      TEXT    NOT NULL DEFAULT '',
    last_response   TEXT    NOT NULL DEFAULT '', -- truncated response body
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (event_id) -- also the index the events FK cascade needs
);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (instance_id, status, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
