-- The trigram index's segments are merged by the server between requests
-- (`audit_log::search::merge_step`, run by `startup`), never by the insert that happens to fill a level: FTS5's
-- automatic merging ran inside an audit entry's commit and held up that request by 50-140 ms
-- (about one audited request in a hundred, on a store of 10 million entries).
INSERT INTO audit_search (audit_search, rank) VALUES ('automerge', 0);
