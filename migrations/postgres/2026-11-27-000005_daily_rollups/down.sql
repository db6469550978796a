DROP TABLE audit_rollups_daily;
