-- A trigram index over `audit_entries.search_text` (see crates/api/src/audit_log/search.rs):
-- it finds the few entries holding a rare search term without reading the whole window.
-- `detail='none'` keeps it small (no positions): it answers "holds every trigram of the term",
-- a superset that the LIKE on search_text then narrows to the exact matches.
CREATE VIRTUAL TABLE audit_search USING fts5(
    search_text,
    content = 'audit_entries',
    content_rowid = 'id',
    tokenize = 'trigram',
    detail = 'none'
);
INSERT INTO audit_search (audit_search) VALUES ('rebuild');

CREATE TRIGGER audit_search_insert AFTER INSERT ON audit_entries BEGIN
    INSERT INTO audit_search (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER audit_search_delete AFTER DELETE ON audit_entries BEGIN
    INSERT INTO audit_search (audit_search, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END;
