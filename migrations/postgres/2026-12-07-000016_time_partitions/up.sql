-- `audit_entries` becomes a table partitioned by time: one partition per UTC day of `ts`, made
-- ahead by the server (crates/api/src/db/partitions.rs), so that retention drops a whole day
-- instead of deleting its rows one by one, and every time-bounded query reads only the days
-- it covers.
--
-- The migration is in place: the existing table becomes the partition `audit_entries_history`,
-- holding everything before the first daily partition, and no row is copied. Its rows expire
-- as they always did (deleted in batches); the daily partitions after it are dropped whole.
-- A database without entries starts its daily partitions 31 days back.
--
-- What a partitioned table cannot have, and what replaces it:
-- * a primary key or unique index without `ts`: ids come from the sequence `audit_entries_ids`
--   (continuing the old identity) with an index on `id` for lookups; one entry per chain
--   position is kept by the chain head's row lock, and verification reports a position held
--   twice;
-- * `GENERATED ALWAYS AS IDENTITY` (PostgreSQL 17 allows it on partitioned tables): a default.
-- Rows outside every partition (a clock far ahead) land in `audit_entries_default`; the server
-- moves them into their day's partition when it creates it.

ALTER TABLE audit_entries RENAME TO audit_entries_history;
DROP TRIGGER audit_entries_append_only ON audit_entries_history;
ALTER INDEX audit_entries_project_time RENAME TO audit_entries_history_project_time;
ALTER INDEX audit_entries_project_method_time RENAME TO audit_entries_history_project_method_time;
ALTER INDEX audit_entries_project_actor_time RENAME TO audit_entries_history_project_actor_time;
ALTER INDEX audit_entries_project_resource_type_time RENAME TO audit_entries_history_project_resource_type_time;
ALTER INDEX audit_entries_project_resource_time RENAME TO audit_entries_history_project_resource_time;
ALTER INDEX audit_entries_project_action_time RENAME TO audit_entries_history_project_action_time;
ALTER INDEX audit_entries_project_status_time RENAME TO audit_entries_history_project_status_time;
ALTER INDEX audit_entries_project_chain RENAME TO audit_entries_history_project_chain;
ALTER INDEX audit_entries_time RENAME TO audit_entries_history_time;
ALTER INDEX audit_entries_search_trgm RENAME TO audit_entries_history_search_trgm;
ALTER TABLE audit_entries_history RENAME CONSTRAINT audit_entries_pkey TO audit_entries_history_pkey;
-- (Its check constraints keep their names: a partition must have the parent's, by name.)

-- The ids continue where the identity stopped.
CREATE SEQUENCE audit_entries_ids AS BIGINT;
SELECT setval('audit_entries_ids', COALESCE((SELECT MAX(id) FROM audit_entries_history), 0) + 1, false);
ALTER TABLE audit_entries_history ALTER COLUMN id DROP IDENTITY;

CREATE TABLE audit_entries (
    id BIGINT NOT NULL DEFAULT nextval('audit_entries_ids'),
    project_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CONSTRAINT audit_entries_actor_kind_check CHECK (actor_kind IN ('user', 'token')),
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    actor_email TEXT,
    source TEXT NOT NULL CONSTRAINT audit_entries_source_check CHECK (source IN ('dashboard', 'cli', 'api', 'ingest')),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id BIGINT,
    resource_name TEXT NOT NULL,
    client_ip TEXT,
    user_agent TEXT,
    request_id TEXT NOT NULL,
    duration_us BIGINT NOT NULL,
    actor_key TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    chain_seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    ingested_by_token_id BIGINT,
    changes TEXT
) PARTITION BY RANGE (ts);
ALTER SEQUENCE audit_entries_ids OWNED BY audit_entries.id;

CREATE INDEX audit_entries_id ON audit_entries (id);
CREATE INDEX audit_entries_project_time ON audit_entries (project_id, ts, id);
CREATE INDEX audit_entries_project_method_time ON audit_entries (project_id, method, ts, id);
CREATE INDEX audit_entries_project_actor_time ON audit_entries (project_id, actor_key, ts, id);
CREATE INDEX audit_entries_project_resource_type_time ON audit_entries (project_id, resource_type, ts, id);
CREATE INDEX audit_entries_project_resource_time ON audit_entries (project_id, resource_key, ts, id);
CREATE INDEX audit_entries_project_action_time ON audit_entries (project_id, action, ts, id);
CREATE INDEX audit_entries_project_status_time ON audit_entries (project_id, status_code, ts, id);
CREATE INDEX audit_entries_project_chain ON audit_entries (project_id, chain_seq);
CREATE INDEX audit_entries_time ON audit_entries (ts);
CREATE INDEX audit_entries_search_trgm ON audit_entries USING gin (search_text gin_trgm_ops);

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_update();

-- The old table holds everything before its bound: the next UTC midnight after its newest
-- entry, or 31 days ago when it is empty.
DO $$
DECLARE
    day CONSTANT BIGINT := 86400000000;
    today BIGINT := (FLOOR(EXTRACT(EPOCH FROM now()) * 1000000)::BIGINT / day) * day;
    newest BIGINT;
    bound BIGINT;
BEGIN
    SELECT MAX(ts) INTO newest FROM audit_entries_history;
    IF newest IS NULL THEN
        bound := today - 31 * day;
    ELSE
        bound := GREATEST((newest / day + 1) * day, today - 31 * day);
    END IF;
    EXECUTE format(
        'ALTER TABLE audit_entries_history ADD CONSTRAINT audit_entries_history_bound CHECK (ts < %s)',
        bound);
    EXECUTE format(
        'ALTER TABLE audit_entries ATTACH PARTITION audit_entries_history FOR VALUES FROM (MINVALUE) TO (%s)',
        bound);
END
$$;

-- Attaching built the history's non-unique indexes on `id` and on the chain position; its
-- unique ones are redundant now.
ALTER TABLE audit_entries_history DROP CONSTRAINT audit_entries_history_pkey;
DROP INDEX audit_entries_history_project_chain;

CREATE TABLE audit_entries_default PARTITION OF audit_entries DEFAULT;
