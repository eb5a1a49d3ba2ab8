-- What the sender said, hashed: a channel id reused for different content is a new report.
ALTER TABLE reports ADD COLUMN content_digest text;
ALTER TABLE reports ADD COLUMN location jsonb;
ALTER TABLE reports ADD COLUMN contacts jsonb NOT NULL DEFAULT '[]';
ALTER TABLE reports ADD COLUMN sender_auth jsonb;
ALTER TABLE reports ADD COLUMN parts integer NOT NULL DEFAULT 1;
ALTER TABLE reports ADD COLUMN fragments_only boolean NOT NULL DEFAULT false;

-- Submissions refused with a dead letter, so a late replay is recognised, not dead-lettered again.
CREATE TABLE refused_submissions (
    report_id uuid NOT NULL,
    content_digest text NOT NULL,
    reason text NOT NULL,
    refused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, content_digest)
);

-- Edits of a message already in a report: kept beside it, since the original is evidence too.
CREATE TABLE report_revisions (
    report_id uuid NOT NULL,
    external_id text NOT NULL,
    revised_at timestamptz NOT NULL,
    text text,
    PRIMARY KEY (report_id, external_id)
);
CREATE INDEX reports_external_id ON reports (agency_id, external_id) WHERE external_id IS NOT NULL;
