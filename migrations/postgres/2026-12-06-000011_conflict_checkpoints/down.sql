ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_kind_check;
ALTER TABLE audit_checkpoints ADD CONSTRAINT audit_checkpoints_kind_check
    CHECK (kind IN ('head', 'retention'));
