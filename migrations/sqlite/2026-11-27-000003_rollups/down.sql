DROP TABLE audit_rollups;
