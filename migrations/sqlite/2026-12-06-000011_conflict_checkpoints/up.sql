-- `conflict` checkpoints: the server found a chain head that no trusted key signed (entries
-- appended or a head rewritten outside it) and appended on top of it. Signed, so that every
-- server reports the untrusted stretch, not only the one that found it. SQLite cannot change a
-- CHECK constraint in place: the table is rebuilt with its rows, index and triggers.
CREATE TABLE audit_checkpoints_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('head', 'retention', 'conflict')),
    chain_seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
INSERT INTO audit_checkpoints_new (id, project_id, kind, chain_seq, entry_hash, signed_at, key_id, signature)
SELECT id, project_id, kind, chain_seq, entry_hash, signed_at, key_id, signature FROM audit_checkpoints;
DROP TABLE audit_checkpoints;
ALTER TABLE audit_checkpoints_new RENAME TO audit_checkpoints;
CREATE INDEX audit_checkpoints_project ON audit_checkpoints (project_id, kind, chain_seq);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
