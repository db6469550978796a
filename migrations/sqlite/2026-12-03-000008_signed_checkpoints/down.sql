DROP TABLE audit_checkpoints;
ALTER TABLE audit_chain_heads DROP COLUMN signature;
ALTER TABLE audit_chain_heads DROP COLUMN key_id;
ALTER TABLE audit_chain_heads DROP COLUMN signed_at;
