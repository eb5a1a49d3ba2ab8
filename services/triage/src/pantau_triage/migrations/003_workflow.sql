ALTER TABLE cases ADD COLUMN routed_to text[] NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN claims jsonb NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN resolution text;
-- The first report's full text: what a reviewer's category correction labels for retraining.
ALTER TABLE cases ADD COLUMN first_text text;
CREATE INDEX cases_routed_to ON cases USING gin (routed_to);

-- Every change of a case, with who and when.
CREATE TABLE case_history (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    at timestamptz NOT NULL,
    change text NOT NULL,
    actor text,
    from_state text,
    to_state text NOT NULL,
    resolution text,
    note text
);
CREATE INDEX case_history_case ON case_history (case_id, id);

-- Near-duplicate lookup: LSH band keys of each open case's first text, found with `&&`.
CREATE TABLE case_fingerprints (
    case_id uuid PRIMARY KEY REFERENCES cases (case_id),
    agency_id text NOT NULL,
    band_keys bigint[] NOT NULL,
    signature bytea NOT NULL,
    open boolean NOT NULL DEFAULT true
);
CREATE INDEX case_fingerprints_bands ON case_fingerprints USING gin (band_keys) WHERE open;

-- A reviewer's correction of the categories: labelled data for retraining.
CREATE TABLE category_corrections (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    text text NOT NULL,
    predicted jsonb NOT NULL,
    corrected text[] NOT NULL,
    actor text NOT NULL,
    note text,
    at timestamptz NOT NULL DEFAULT now()
);

-- Claims that fact-checkers already examined (Komdigi hoax reports, Turn Back Hoax, Cek Fakta).
CREATE TABLE claims (
    claim_id text PRIMARY KEY,
    text text NOT NULL,
    verdict text NOT NULL,
    source_url text NOT NULL,
    checked_on date,
    added_by text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now()
);
