-- 0008: account health.
-- meta keeps process-wide values across restarts, e.g. the last WhatsApp Web
-- version that was fetched and applied (key "wa_version").
CREATE TABLE meta (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The first-contact governor: held_until is when a queued message to a
-- chat that never wrote to the instance may go (0: not held); it is shown
-- in GET …/queue and cleared when the message is claimed.
ALTER TABLE messages ADD COLUMN held_until INTEGER NOT NULL DEFAULT 0;

-- The chats a first message went to (one row per chat, when it was claimed);
-- the rows of the last 24 hours count against max_first_contacts_per_day.
CREATE TABLE first_contacts (
    instance_id TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    chat        TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (instance_id, chat)
) WITHOUT ROWID;

-- restricted_until: WhatsApp refused a first contact; first contacts wait
-- until then. holding: some queued rows carry a held_until to clear.
CREATE TABLE instance_health (
    instance_id      TEXT    PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    restricted_until INTEGER NOT NULL DEFAULT 0,
    holding          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
