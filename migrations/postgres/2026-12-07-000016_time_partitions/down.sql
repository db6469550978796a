-- Back to one table: every row is copied into a plain table like the one before partitioning.
CREATE TABLE audit_entries_unpartitioned (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
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
);
INSERT INTO audit_entries_unpartitioned OVERRIDING SYSTEM VALUE SELECT * FROM audit_entries;
SELECT setval(pg_get_serial_sequence('audit_entries_unpartitioned', 'id'), nextval('audit_entries_ids'), false);
DROP TABLE audit_entries;
ALTER TABLE audit_entries_unpartitioned RENAME TO audit_entries;
ALTER SEQUENCE audit_entries_unpartitioned_id_seq RENAME TO audit_entries_id_seq;
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_pkey PRIMARY KEY (id);
CREATE INDEX audit_entries_project_time ON audit_entries (project_id, ts, id);
CREATE INDEX audit_entries_project_method_time ON audit_entries (project_id, method, ts, id);
CREATE INDEX audit_entries_project_actor_time ON audit_entries (project_id, actor_key, ts, id);
CREATE INDEX audit_entries_project_resource_type_time ON audit_entries (project_id, resource_type, ts, id);
CREATE INDEX audit_entries_project_resource_time ON audit_entries (project_id, resource_key, ts, id);
CREATE INDEX audit_entries_project_action_time ON audit_entries (project_id, action, ts, id);
CREATE INDEX audit_entries_project_status_time ON audit_entries (project_id, status_code, ts, id);
CREATE UNIQUE INDEX audit_entries_project_chain ON audit_entries (project_id, chain_seq);
CREATE INDEX audit_entries_time ON audit_entries (ts);
CREATE INDEX audit_entries_search_trgm ON audit_entries USING gin (search_text gin_trgm_ops);
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_update();
