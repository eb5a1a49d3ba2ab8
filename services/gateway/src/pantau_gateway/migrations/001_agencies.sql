CREATE TABLE agencies (
    agency_id text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    region_code text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Only an HMAC of each key's secret is stored; the key itself is shown once, when created.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    agency_id text NOT NULL REFERENCES agencies (agency_id),
    secret_hash bytea NOT NULL,
    label text NOT NULL DEFAULT '',
    rate_limit_per_minute integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_agency ON api_keys (agency_id);
