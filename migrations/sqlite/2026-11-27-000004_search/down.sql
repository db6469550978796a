DROP TRIGGER audit_search_delete;
DROP TRIGGER audit_search_insert;
DROP TABLE audit_search;
