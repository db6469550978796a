-- Entry counts per project, hour and dimension value, kept in the same transaction as the
-- entries they count (see crates/api/src/audit_log/rollup.rs). They answer the histogram, the
-- facets and counts of unfiltered or one-dimension views without reading the entries.
-- `bucket` is the hour's start in microseconds since the Unix epoch; `dimension` is one of
-- actor, method, source, action, status, resource_type, resource; `value` is the entry's
-- actor_key, method, source, action, status_code, resource_type or resource_key.
CREATE TABLE audit_rollups (
    project_id BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    value TEXT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (project_id, dimension, bucket, value)
) WITHOUT ROWID;

-- Counts for the entries already stored.
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'actor', (ts / 3600000000) * 3600000000, actor_key, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'method', (ts / 3600000000) * 3600000000, method, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'source', (ts / 3600000000) * 3600000000, source, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'action', (ts / 3600000000) * 3600000000, action, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'status', (ts / 3600000000) * 3600000000, CAST(status_code AS TEXT), COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'resource_type', (ts / 3600000000) * 3600000000, resource_type, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'resource', (ts / 3600000000) * 3600000000, resource_key, COUNT(*)
FROM audit_entries GROUP BY 1, 3, 4;
