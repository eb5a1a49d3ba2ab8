-- Look-alike search ranks handle skeletons by trigram similarity. pg_trgm is part of PostgreSQL's
-- contrib set and a trusted extension (PostgreSQL 13+), so a database owner without superuser
-- may create it; it lands in this service's schema, the first on the search path here.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Official participant accounts as the KPU lists them (Bawaslu's copy).
CREATE TABLE registered_accounts (
    platform text NOT NULL,
    handle text NOT NULL,          -- normalised (registries.normalise_handle)
    skeleton text NOT NULL,        -- look-alike key (registries.skeleton); '' for numeric ids
    participant text NOT NULL,
    party text NOT NULL DEFAULT '',
    election_id text NOT NULL,
    region_code text NOT NULL DEFAULT '',
    url text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, handle)
);
-- Exact skeleton hits (and containment, by probing the query's substrings) through the btree;
-- near misses through the trigram index.
CREATE INDEX registered_accounts_skeleton ON registered_accounts (skeleton);
CREATE INDEX registered_accounts_skeleton_trgm ON registered_accounts
    USING gin (skeleton gin_trgm_ops);
CREATE INDEX registered_accounts_scope ON registered_accounts (election_id, region_code);

-- Officials who must stay neutral: ASN, kepala desa, perangkat desa.
CREATE TABLE watched_officials (
    platform text NOT NULL,
    handle text NOT NULL,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('asn', 'kepala_desa', 'perangkat_desa')),
    institution text NOT NULL DEFAULT '',
    region_code text NOT NULL DEFAULT '',
    url text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, handle)
);
CREATE INDEX watched_officials_region ON watched_officials (region_code);
