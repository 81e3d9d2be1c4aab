-- 0002: what the webhook worker needs beyond 0001's webhook_deliveries.
--
-- status now takes four values (no CHECK, see 0001):
--   pending    not yet attempted, or re-queued by hand; due at next_attempt_at
--   failed     the last attempt failed and another is due at next_attempt_at
--   delivered  a 2xx answer (delivered_at)
--   dead       given up: a non-retryable answer, or the retry window ran out
--
-- first_attempt_at opens the retry window (0 = no attempt since the row was
-- queued or re-queued); last_attempt_at is shown in the API. Neither can be
-- derived from updated_at, which re-queueing also moves.
ALTER TABLE webhook_deliveries ADD COLUMN first_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries ADD COLUMN last_attempt_at INTEGER NOT NULL DEFAULT 0;

-- GET …/webhook/deliveries without ?status lists an instance's rows newest
-- first; (instance_id, status, id) would make that a scan and a sort.
CREATE INDEX webhook_deliveries_instance ON webhook_deliveries (instance_id, id);
