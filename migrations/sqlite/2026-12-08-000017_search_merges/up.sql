-- The trigram index's segments are merged by the audit writer between its commits
-- (`entry::store::merge_search_index`), never by the insert that happens to fill a level: FTS5's
-- automatic merging ran inside an audit entry's commit and held up the requests waiting on that
-- commit by 50-450 ms (about one audited request in a hundred, on a store of 10 million entries).
INSERT INTO audit_search (audit_search, rank) VALUES ('automerge', 0);
