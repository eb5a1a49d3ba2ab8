CREATE TABLE cases (
    case_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    state text NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    region_code text,
    platform text NOT NULL,
    canonical_url text,
    content_sha256 text,
    summary text NOT NULL DEFAULT '',
    categories jsonb NOT NULL DEFAULT '[]',
    priority integer NOT NULL,
    priority_level text NOT NULL,
    priority_reasons jsonb NOT NULL DEFAULT '[]',
    report_count integer NOT NULL DEFAULT 0,
    reporter_count integer NOT NULL DEFAULT 0
);
-- One open case per piece of content and agency: concurrent reports of the same link or text
-- race on these indexes, and the loser retries and joins the winner's case.
CREATE UNIQUE INDEX cases_open_by_url ON cases (agency_id, canonical_url)
    WHERE state <> 'closed' AND canonical_url IS NOT NULL;
CREATE UNIQUE INDEX cases_open_by_content ON cases (agency_id, content_sha256)
    WHERE state <> 'closed' AND content_sha256 IS NOT NULL;

CREATE TABLE case_reports (
    report_id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    reporter_id text,
    attached_at timestamptz NOT NULL
);
CREATE INDEX case_reports_case ON case_reports (case_id, reporter_id);
