-- What a state-changing request changed, field by field: the compact JSON of its change list
-- (see auditlog_shared::chain::changes_text), covered by the entry's hash when present. Entries
-- without changes (all earlier ones) leave it NULL and hash as before.
ALTER TABLE audit_entries ADD COLUMN changes TEXT;
