CREATE TABLE audit_checkpoints_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('head', 'retention')),
    chain_seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
INSERT INTO audit_checkpoints_old (id, project_id, kind, chain_seq, entry_hash, signed_at, key_id, signature)
SELECT id, project_id, kind, chain_seq, entry_hash, signed_at, key_id, signature FROM audit_checkpoints;
DROP TABLE audit_checkpoints;
ALTER TABLE audit_checkpoints_old RENAME TO audit_checkpoints;
CREATE INDEX audit_checkpoints_project ON audit_checkpoints (project_id, kind, chain_seq);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
