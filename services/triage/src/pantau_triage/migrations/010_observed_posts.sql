-- Every post intake's collectors observed, finding or not: its evidence hash, the post's own
-- time and reach, and what triage found in it. Partitioned by the day it was observed, so the
-- retention period is kept by dropping whole days (observed.py's maintenance creates the days
-- ahead and drops the expired ones); the default partition catches a day not made in time.
CREATE TABLE observed_posts (
    observation_id uuid NOT NULL,
    agency_id text NOT NULL,
    platform text NOT NULL,
    account_id text NOT NULL,
    account_handle text,
    post_id text NOT NULL,
    url text,
    text text,
    media_sha256 text[] NOT NULL DEFAULT '{}',
    posted_at timestamptz NOT NULL,
    observed_at timestamptz NOT NULL,
    reach bigint,
    evidence_sha256 text NOT NULL,
    finding boolean NOT NULL,
    categories text[] NOT NULL DEFAULT '{}',
    reasons text[] NOT NULL DEFAULT '{}',
    -- The report it became when something was found; its case is the report's.
    report_id uuid,
    PRIMARY KEY (observation_id, observed_at)
) PARTITION BY RANGE (observed_at);
CREATE TABLE observed_posts_default PARTITION OF observed_posts DEFAULT;
CREATE INDEX observed_posts_account ON observed_posts (agency_id, platform, account_id, posted_at DESC);
CREATE INDEX observed_posts_findings ON observed_posts (agency_id, observed_at) WHERE finding;
