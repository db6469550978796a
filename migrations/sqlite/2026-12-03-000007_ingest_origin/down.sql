PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (source IN (''dashboard'', ''cli'', ''api'', ''ingest''))',
    'CHECK (source IN (''dashboard'', ''cli'', ''api''))')
WHERE type = 'table' AND name = 'audit_entries';
PRAGMA writable_schema = RESET;
ALTER TABLE audit_entries DROP COLUMN ingested_by_token_id;
