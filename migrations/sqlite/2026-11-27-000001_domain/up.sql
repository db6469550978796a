-- The whole domain of PRODUCT.md. Every timestamp is an INTEGER of microseconds since the Unix
-- epoch (UTC), so that SQLite and PostgreSQL sort and bucket time identically.

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE project_settings (
    project_id BIGINT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    audit_export_enabled BOOLEAN NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    can_ingest BOOLEAN NOT NULL DEFAULT 0,
    created_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_project ON api_tokens (project_id);

CREATE TABLE clusters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cluster_id BIGINT REFERENCES clusters (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    deploy_count BIGINT NOT NULL DEFAULT 0,
    last_deployed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE datastores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    engine TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE environment_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    variables TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE cloud_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    external_account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE integrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

-- One row per audited request. Append-only: no foreign keys (an entry outlives whatever it
-- names), names stored as they were at request time, and updates refused by a trigger.
CREATE TABLE audit_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'token')),
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    actor_email TEXT,
    source TEXT NOT NULL CHECK (source IN ('dashboard', 'cli', 'api')),
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
    -- Derived at write time from the fields above, for filters and facets:
    -- `user:12` / `token:5` (`user:` when the id is unknown), `application:7` / `application:`.
    actor_key TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    chain_seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE INDEX audit_entries_project_time ON audit_entries (project_id, ts, id);
CREATE INDEX audit_entries_project_method_time ON audit_entries (project_id, method, ts, id);
CREATE INDEX audit_entries_project_actor_time ON audit_entries (project_id, actor_key, ts, id);
CREATE INDEX audit_entries_project_resource_type_time ON audit_entries (project_id, resource_type, ts, id);
CREATE INDEX audit_entries_project_resource_time ON audit_entries (project_id, resource_key, ts, id);
CREATE INDEX audit_entries_project_action_time ON audit_entries (project_id, action, ts, id);
CREATE INDEX audit_entries_project_status_time ON audit_entries (project_id, status_code, ts, id);
CREATE UNIQUE INDEX audit_entries_project_chain ON audit_entries (project_id, chain_seq);
CREATE INDEX audit_entries_time ON audit_entries (ts);

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

-- The head of each project's hash chain: the last sequence number and hash. Writers lock this
-- row while they append, so concurrent servers extend one chain and never fork it.
CREATE TABLE audit_chain_heads (
    project_id BIGINT PRIMARY KEY,
    chain_seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL
);
