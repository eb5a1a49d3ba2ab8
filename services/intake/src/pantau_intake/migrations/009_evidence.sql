-- Evidence of reports and observed posts (docs/evidence.md): what each link pointed at, kept
-- as WARC, screenshot and media in the object store, with its hash, trusted time and custody.

-- One job per (report, URL): written when the report's event is consumed, leased by a worker
-- while it fetches (no transaction open), finished in the transaction that records the items.
CREATE TABLE evidence_jobs (
    job_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    -- The report the evidence belongs to; for an observed post, the report triage makes of it.
    report_id uuid NOT NULL,
    observation_id uuid,
    url text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'refused', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL DEFAULT now(),
    lease_token uuid,
    leased_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX evidence_jobs_due ON evidence_jobs (due_at) WHERE state = 'pending';
CREATE INDEX evidence_jobs_report ON evidence_jobs (report_id);

-- Every kept (or refused) item. The id is derived from (report, kind, URL, hash), so a job run
-- twice (a lease lost mid-fetch) stores each item once.
CREATE TABLE evidence_items (
    item_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    report_id uuid NOT NULL,
    observation_id uuid,
    job_id uuid REFERENCES evidence_jobs,
    url text,
    kind text NOT NULL CHECK (kind IN ('warc', 'screenshot', 'media', 'attachment')),
    status text NOT NULL CHECK (status IN ('preserved', 'refused', 'failed', 'unavailable', 'deleted')),
    sha256 text,
    size bigint,
    media_type text,
    fetched_at timestamptz,
    reason text,
    timestamp_state text NOT NULL DEFAULT 'pending'
        CHECK (timestamp_state IN ('pending', 'stamped', 'not_timestamped', 'failed')),
    timestamp_token bytea,
    timestamp_time timestamptz,
    timestamp_tsa text,
    timestamp_attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX evidence_items_report ON evidence_items (agency_id, report_id, created_at);
CREATE INDEX evidence_items_sha256 ON evidence_items (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX evidence_items_unstamped ON evidence_items (created_at)
    WHERE timestamp_state = 'pending' AND status = 'preserved';

-- Which reports make up which case, as triage's case events say (case.opened, report attached).
CREATE TABLE evidence_case_reports (
    case_id uuid NOT NULL,
    agency_id text NOT NULL,
    report_id uuid NOT NULL,
    PRIMARY KEY (case_id, report_id)
);

-- Bundles built for a case: the zip is kept under its own hash, read back by the gateway.
CREATE TABLE evidence_bundles (
    sha256 text NOT NULL,
    agency_id text NOT NULL,
    case_id uuid NOT NULL,
    size bigint NOT NULL,
    items integer NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    PRIMARY KEY (agency_id, sha256)
);

-- The custody log: one hash chain per report (every preservation, timestamp, access, export and
-- deletion of its items) and one per case (each export, pinning the heads of its reports'
-- chains). Appended under an advisory lock per chain; never changed.
CREATE TABLE evidence_custody (
    chain_id uuid NOT NULL,
    chain_kind text NOT NULL CHECK (chain_kind IN ('report', 'case')),
    seq integer NOT NULL,
    agency_id text NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    detail text NOT NULL,
    previous_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (chain_id, seq)
);

CREATE FUNCTION evidence_custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence_custody is append-only';
END;
$$;
CREATE TRIGGER evidence_custody_append_only BEFORE UPDATE OR DELETE ON evidence_custody
    FOR EACH ROW EXECUTE FUNCTION evidence_custody_append_only();
