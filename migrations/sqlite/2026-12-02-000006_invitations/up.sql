-- Invitations: membership starts with one, accepted by the invitee with their own credentials.
-- Only a hash of the secret is kept, so whoever reads the database cannot accept one. An
-- invitation is used once: accepting, revoking or expiring ends it.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    secret_hash TEXT NOT NULL UNIQUE,
    invited_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    invited_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at BIGINT
);
CREATE INDEX invitations_project ON invitations (project_id, created_at);
