-- 0005: a message's status history moves into its row. One row per status
-- change in message_status, indexed by the (random) message id, dirtied
-- another 4 KiB page on almost every change; the messages row is rewritten
-- by each change anyway. history is a JSON array of
-- {"status", "error", "at"} (unix ms), oldest first.
ALTER TABLE messages ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
UPDATE messages SET history = (
    SELECT json_group_array(json_object('status', s.status, 'error', s.error, 'at', s.at) ORDER BY s.rowid)
    FROM message_status s WHERE s.instance_id = messages.instance_id AND s.message_id = messages.id
) WHERE EXISTS (SELECT 1 FROM message_status s WHERE s.instance_id = messages.instance_id AND s.message_id = messages.id);
DROP TABLE message_status;
