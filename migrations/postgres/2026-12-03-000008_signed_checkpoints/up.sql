-- Signed chain heads and checkpoints. The signing key is never in the database: someone who can
-- write the database can change entries and heads, but cannot sign what they changed.
ALTER TABLE audit_chain_heads ADD COLUMN signed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_chain_heads ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain_heads ADD COLUMN signature TEXT NOT NULL DEFAULT '';

-- `head` checkpoints: a signed (chain_seq, entry_hash) of the chain, kept as history.
-- `retention` checkpoints: the newest entry the retention job removed (the chain may start
-- after it, and nowhere later).
CREATE TABLE audit_checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('head', 'retention')),
    chain_seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_project ON audit_checkpoints (project_id, kind, chain_seq);

CREATE FUNCTION audit_checkpoints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only';
END;
$$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_refuse_change();
