INSERT INTO audit_search (audit_search, rank) VALUES ('automerge', 4);
