-- The schedule of watched accounts: one row per account, leased by a collector while it fetches.
CREATE TABLE watched_accounts (
    agency_id text NOT NULL,
    platform text NOT NULL,
    account_id text NOT NULL,
    handle text,
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'gone', 'private', 'failing')),
    -- The connector's own cursor (a since_id, the last seen item): committed with the posts.
    cursor text,
    due_at timestamptz NOT NULL DEFAULT now(),
    lease_token uuid,
    leased_until timestamptz,
    last_checked_at timestamptz,
    last_success_at timestamptz,
    failures integer NOT NULL DEFAULT 0,
    last_error text,
    posts_observed bigint NOT NULL DEFAULT 0,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, platform, account_id)
);
CREATE INDEX watched_accounts_due ON watched_accounts (due_at) WHERE state IN ('active', 'failing');

-- Every observed post, finding or not: the evidence (hash, the post's own time, reach).
CREATE TABLE observed_posts (
    observation_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    platform text NOT NULL,
    account_id text NOT NULL,
    post_id text NOT NULL,
    url text,
    text text,
    media_sha256 text[] NOT NULL DEFAULT '{}',
    posted_at timestamptz NOT NULL,
    observed_at timestamptz NOT NULL,
    reach bigint,
    evidence_sha256 text NOT NULL
);
CREATE INDEX observed_posts_account ON observed_posts (agency_id, platform, account_id, posted_at DESC);
