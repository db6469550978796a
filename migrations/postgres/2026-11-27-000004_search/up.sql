-- A trigram index over `audit_entries.search_text`: the planner uses it for `LIKE '%term%'`
-- when the term is rare, and scans newest-first by time when it is common.
-- pg_trgm ships with PostgreSQL and is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX audit_entries_search_trgm ON audit_entries USING gin (search_text gin_trgm_ops);
