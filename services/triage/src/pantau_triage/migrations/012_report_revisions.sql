-- Reporters' late changes to their reports (an edit, a deletion in the chat), as intake tells
-- them: kept by report, so a change read before its report still finds the case later.
CREATE TABLE report_revisions (
    report_id uuid NOT NULL,
    external_id text NOT NULL,
    agency_id text NOT NULL,
    change text NOT NULL,
    revised_at timestamptz NOT NULL,
    revises text NOT NULL,
    text text,
    -- Written into the case's history: when it came, or when its report later joined a case.
    in_history boolean NOT NULL DEFAULT false,
    PRIMARY KEY (report_id, external_id)
);
