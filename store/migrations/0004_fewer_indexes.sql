-- 0004: indexes that cost page writes and no longer serve a query. Every
-- index a write touches is one more 4 KiB page in the WAL (SD cards wear).
-- The instance list is read once at start-up and sorted there.
DROP INDEX instances_created_at;
-- The claim walks messages_queue_seq in queue order (see ClaimMessage).
DROP INDEX messages_queue;
