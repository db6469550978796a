DROP TABLE audit_search_vocab;
DROP TRIGGER audit_search_delete;
DROP TRIGGER audit_search_insert;
DROP TABLE audit_search;
