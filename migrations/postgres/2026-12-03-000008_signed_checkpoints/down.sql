DROP TABLE audit_checkpoints;
DROP FUNCTION audit_checkpoints_refuse_change();
ALTER TABLE audit_chain_heads DROP COLUMN signature;
ALTER TABLE audit_chain_heads DROP COLUMN key_id;
ALTER TABLE audit_chain_heads DROP COLUMN signed_at;
