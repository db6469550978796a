ALTER TABLE audit_entries DROP COLUMN ingested_by_token_id;
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_source_check;
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_source_check
    CHECK (source IN ('dashboard', 'cli', 'api'));
