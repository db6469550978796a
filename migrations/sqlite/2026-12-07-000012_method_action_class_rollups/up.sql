-- Rollup counts of method, action and status class together (dimension `method_action_class`,
-- value "<method> <action> <class digit>"), so that views filtered on method and action (the
-- navigation default excludes GET and the audit log's own actions) are summed from rollups
-- instead of read entry by entry, and their histogram bars split by status class (see
-- crates/api/src/audit_log/rollup.rs). Counts for the entries already stored:
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'method_action_class', (ts / 3600000000) * 3600000000, method || ' ' || action || ' ' || CAST(status_code / 100 AS TEXT), COUNT(*)
FROM audit_entries
GROUP BY project_id, (ts / 3600000000) * 3600000000, method || ' ' || action || ' ' || CAST(status_code / 100 AS TEXT);

INSERT INTO audit_rollups_daily (project_id, dimension, bucket, value, entries)
SELECT project_id, dimension, (bucket / 86400000000) * 86400000000, value, SUM(entries)
FROM audit_rollups WHERE dimension = 'method_action_class'
GROUP BY project_id, dimension, (bucket / 86400000000) * 86400000000, value;
