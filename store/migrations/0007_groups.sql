-- 0007: the groups an instance is in, as WhatsApp last described them
-- (refreshed from the group list, group info and w:gp2 notifications), so
-- GET …/groups answers without a round trip and while disconnected. info
-- is the JSON of the group as the API shows it.
CREATE TABLE groups (
    instance_id TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    jid         TEXT    NOT NULL,
    subject     TEXT    NOT NULL DEFAULT '',
    info        TEXT    NOT NULL DEFAULT '{}',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, jid)
) WITHOUT ROWID;
