-- Rollup counts of method and action together (dimension `method_action`, value
-- "<method> <action>"), so that views filtered on both (the navigation default excludes GET and
-- the audit log's own actions) are summed from rollups instead of read entry by entry (see
-- crates/api/src/audit_log/rollup.rs). Counts for the entries already stored:
INSERT INTO audit_rollups (project_id, dimension, bucket, value, entries)
SELECT project_id, 'method_action', (ts / 3600000000) * 3600000000, method || ' ' || action, COUNT(*)
FROM audit_entries GROUP BY project_id, (ts / 3600000000) * 3600000000, method || ' ' || action;

INSERT INTO audit_rollups_daily (project_id, dimension, bucket, value, entries)
SELECT project_id, dimension, (bucket / 86400000000) * 86400000000, value, SUM(entries)
FROM audit_rollups WHERE dimension = 'method_action'
GROUP BY project_id, dimension, (bucket / 86400000000) * 86400000000, value;
