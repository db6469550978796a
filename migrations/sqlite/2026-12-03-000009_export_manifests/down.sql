DROP TABLE audit_export_manifests;
