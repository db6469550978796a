-- Ingested events get their own source, `ingest`, and name the token that sent them.
ALTER TABLE audit_entries ADD COLUMN ingested_by_token_id BIGINT;

-- SQLite cannot alter a CHECK constraint. Widening one (every stored row still satisfies it)
-- is the documented case for editing the table's definition in place: no row is rewritten,
-- which matters on a store of millions of entries. RESET reloads this connection's schema;
-- the table created and dropped after it changes the schema cookie, so every other open
-- connection reloads it before its next statement.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (source IN (''dashboard'', ''cli'', ''api''))',
    'CHECK (source IN (''dashboard'', ''cli'', ''api'', ''ingest''))')
WHERE type = 'table' AND name = 'audit_entries';
PRAGMA writable_schema = RESET;
CREATE TABLE schema_reload_marker (x INTEGER);
DROP TABLE schema_reload_marker;
