-- 0006: rich messages. content is the public JSON of what a message carries
-- beyond its text (media metadata, location, contacts, reaction, poll with
-- votes, edited/revoked flags); media is the private JSON of its file (the
-- staged or downloaded path, WhatsApp's keys and direct path for a
-- download). Both stay '' for a plain text message, so text rows do not grow.
ALTER TABLE messages ADD COLUMN content TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN media TEXT NOT NULL DEFAULT '';
