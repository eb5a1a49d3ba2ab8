CREATE TABLE reports (
    report_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    channel text NOT NULL,
    submitted_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    text text,
    url text,
    canonical_url text,
    platform text NOT NULL,
    region_code text,
    author_handle text,
    raw_sha256 text NOT NULL,
    content_sha256 text,
    reporter_id text
);
CREATE INDEX reports_agency_received ON reports (agency_id, received_at DESC);

-- Personal data (UU 27/2022 PDP) lives apart from report content: only the pseudonym travels.
CREATE TABLE reporter_contacts (
    contact_key text PRIMARY KEY,
    reporter_id text NOT NULL,
    name text,
    wants_updates boolean NOT NULL DEFAULT false,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reporter_contacts_reporter ON reporter_contacts (reporter_id);
