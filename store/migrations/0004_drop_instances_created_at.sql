-- 0004: the instance list is read once at start-up and sorted there; an
-- index on created_at only cost one more page written per creation.
DROP INDEX instances_created_at;
