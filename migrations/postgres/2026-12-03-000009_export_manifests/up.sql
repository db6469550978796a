-- The signed manifest of every export that completed, for clients to fetch by the export's id
-- (the `x-audit-export-id` header of the download) and check the file against offline.
CREATE TABLE audit_export_manifests (
    export_id TEXT PRIMARY KEY,
    project_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    manifest TEXT NOT NULL
);
CREATE INDEX audit_export_manifests_project ON audit_export_manifests (project_id, created_at);
