-- Roles on API keys. Keys made before roles could do everything an agency could, short of
-- managing people: they become supervisors, and `add-key --role` names the role from now on.
ALTER TABLE api_keys
    ADD COLUMN roles text[] NOT NULL DEFAULT '{supervisor}',
    -- NULL: every scope the roles allow; otherwise only these (a collector: reports:submit).
    ADD COLUMN scopes text[],
    -- The right to read reporter contacts (personal data, UU 27/2022), granted on its own.
    ADD COLUMN contacts boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ALTER COLUMN roles DROP DEFAULT;

-- Staff who sign in to the console. Only an Argon2id hash of the password is kept.
CREATE TABLE users (
    user_id uuid PRIMARY KEY,
    agency_id text NOT NULL REFERENCES agencies (agency_id),
    email text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    roles text[] NOT NULL,
    contacts boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
-- One account per address across the deployment: signing in needs no agency picker.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_agency ON users (agency_id, created_at);

-- Console sessions, server side: the cookie holds a random token, the table its SHA-256, so a
-- copy of the table signs nobody in. Revoked on sign-out, when the user is disabled, or by an admin.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (user_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    client_address text NOT NULL,
    user_agent text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
