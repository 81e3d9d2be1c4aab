-- 0003: partial indexes for the hot paths, so claiming the next message and
-- the next webhook delivery costs the same with 20 rows or 2 million rows of
-- history. The queries name the status literally: SQLite uses a partial
-- index only when the WHERE clause matches it as written.
CREATE INDEX messages_queue_seq ON messages (instance_id, seq) WHERE status = 'queued';
CREATE INDEX messages_queue_expiry ON messages (instance_id, expires_at) WHERE status = 'queued' AND expires_at > 0;
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (instance_id, id) WHERE status IN ('pending', 'failed');
CREATE INDEX messages_unread ON messages (instance_id, chat, seq) WHERE direction = 'in' AND status = 'received';
