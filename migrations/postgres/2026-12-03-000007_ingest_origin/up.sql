-- Ingested events get their own source, `ingest`, and name the token that sent them.
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_source_check;
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_source_check
    CHECK (source IN ('dashboard', 'cli', 'api', 'ingest'));
ALTER TABLE audit_entries ADD COLUMN ingested_by_token_id BIGINT;
