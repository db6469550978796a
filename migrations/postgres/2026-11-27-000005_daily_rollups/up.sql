-- The same counts per whole UTC day: a month of facets sums about 30 rows per value instead of
-- 720 (see crates/api/src/audit_log/rollup.rs). `bucket` is the day's start in microseconds.
CREATE TABLE audit_rollups_daily (
    project_id BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    value TEXT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (project_id, dimension, bucket, value)
);

INSERT INTO audit_rollups_daily (project_id, dimension, bucket, value, entries)
SELECT project_id, dimension, (bucket / 86400000000) * 86400000000, value, SUM(entries)
FROM audit_rollups GROUP BY 1, 2, 3, 4;
