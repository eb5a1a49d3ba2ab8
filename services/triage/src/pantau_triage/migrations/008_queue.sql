-- The work queue: who a case is handed to, notes on it, and the indexes behind each filter and
-- sort of `case.list` (bench/queue_indexes.py shows them used on 1,000,000 cases).
ALTER TABLE cases ADD COLUMN assignee text;
ALTER TABLE cases ADD COLUMN assigned_at timestamptz;
-- A citizen's report or the agency's own monitoring of watched accounts (triage's observed-post
-- path writes 'monitoring').
ALTER TABLE cases ADD COLUMN source text NOT NULL DEFAULT 'report'
    CHECK (source IN ('report', 'monitoring'));

-- One per sort, each led by the owner so an agency's queue is one range of the index; the case id
-- breaks ties, so a cursor (the last row's key) is a strict position that inserts do not shift.
CREATE INDEX cases_queue_priority ON cases (agency_id, priority, case_id);
CREATE INDEX cases_queue_opened ON cases (agency_id, opened_at, case_id);
CREATE INDEX cases_queue_updated ON cases (agency_id, updated_at, case_id);
-- The default queue is the open cases: most stored cases are closed.
CREATE INDEX cases_queue_open_priority ON cases (agency_id, priority, case_id) WHERE state <> 'closed';
CREATE INDEX cases_queue_open_opened ON cases (agency_id, opened_at, case_id) WHERE state <> 'closed';
CREATE INDEX cases_queue_region ON cases (agency_id, region_code text_pattern_ops);
CREATE INDEX cases_queue_assignee ON cases (agency_id, assignee, priority) WHERE assignee IS NOT NULL;
CREATE INDEX cases_queue_categories ON cases USING gin (categories jsonb_path_ops);
CREATE INDEX cases_queue_summary ON cases USING gin (summary gin_trgm_ops);

-- Notes on a case: each belongs to the agency that wrote it and only that agency reads it.
CREATE TABLE case_notes (
    note_id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    agency_id text NOT NULL,
    actor text NOT NULL,
    principal text,
    text text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX case_notes_case ON case_notes (case_id, agency_id, at);
