-- Stream destinations: where a project's entries are pushed (a webhook, Splunk HEC), with the
-- cursor of what was delivered and the health of the deliveries.
CREATE TABLE stream_destinations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    filter TEXT NOT NULL,
    -- A webhook's signing secret or Splunk's HEC token: the server needs it in clear to
    -- sign or authenticate, so it is never returned after creation.
    secret TEXT NOT NULL,
    -- Custom headers, a JSON object of names to values.
    headers TEXT NOT NULL,
    paused BOOLEAN NOT NULL,
    -- Every entry with chain_seq <= cursor_seq was examined and, if it passed the filter,
    -- delivered.
    cursor_seq BIGINT NOT NULL,
    delivered_entries BIGINT NOT NULL,
    last_delivery_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    consecutive_failures INTEGER NOT NULL,
    next_attempt_at BIGINT,
    -- The server delivering it and until when (several servers share one PostgreSQL).
    lease_owner TEXT,
    lease_until BIGINT,
    created_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
