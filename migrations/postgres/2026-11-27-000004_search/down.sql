DROP INDEX audit_entries_search_trgm;
