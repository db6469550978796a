-- Alerts: a filter and a condition counted over a project's entries in chain order, each firing
-- sent to a stream destination.
CREATE TABLE alert_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    filter TEXT NOT NULL,
    -- An optional recorded change a matching entry must have: the field, and the value after it
    -- (NULL for any change of the field).
    changed_field TEXT,
    changed_to TEXT,
    -- The condition, as JSON: {"type":"any"} or {"type":"threshold","count":…,"window_seconds":…,
    -- "group_by":…}. Fixed once created: the counting state below belongs to it.
    condition TEXT NOT NULL,
    -- Where firings are sent. A destination with alerts cannot be deleted.
    destination_id BIGINT NOT NULL REFERENCES stream_destinations (id),
    paused BOOLEAN NOT NULL,
    -- Every entry with chain_seq <= cursor_seq was counted; window_state holds the recent
    -- matches of each group (JSON), written in the same transaction as the firings.
    cursor_seq BIGINT NOT NULL,
    window_state TEXT NOT NULL,
    fired_count BIGINT NOT NULL,
    last_fired_at BIGINT,
    -- The health of the notifications.
    last_error TEXT,
    last_error_at BIGINT,
    consecutive_failures INTEGER NOT NULL,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

-- One firing of an alert: the entries that met its condition, and whether the destination took
-- the notification.
CREATE TABLE alert_firings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    -- The group's key (`user:7`, an address) and how people read it (the actor's name).
    group_key TEXT,
    group_label TEXT,
    match_count BIGINT NOT NULL,
    first_entry_at BIGINT NOT NULL,
    last_entry_at BIGINT NOT NULL,
    -- A JSON array of the ids of the entries that fired it (at most 20).
    entry_ids TEXT NOT NULL,
    notified_at BIGINT
);

CREATE INDEX alert_firings_alert ON alert_firings (alert_id, id);
-- The notifications still to send, found without walking the ones sent.
CREATE INDEX alert_firings_pending ON alert_firings (alert_id, id) WHERE notified_at IS NULL;
-- Retention removes firings with the entries that fired them.
CREATE INDEX alert_firings_expiry ON alert_firings (last_entry_at);
