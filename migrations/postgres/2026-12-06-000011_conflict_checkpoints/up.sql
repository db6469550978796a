-- `conflict` checkpoints: the server found a chain head that no trusted key signed (entries
-- appended or a head rewritten outside it) and appended on top of it. Signed, so that every
-- server reports the untrusted stretch, not only the one that found it.
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_kind_check;
ALTER TABLE audit_checkpoints ADD CONSTRAINT audit_checkpoints_kind_check
    CHECK (kind IN ('head', 'retention', 'conflict'));
