-- Takedown requests to platforms, their answers, and the re-checks of the URL (docs/takedowns.md).
CREATE TABLE takedowns (
    takedown_id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    agency_id text NOT NULL,
    -- The command that recorded it: a retried request records nothing twice.
    command_id uuid NOT NULL UNIQUE,
    url text NOT NULL,
    platform text NOT NULL,
    legal_basis text NOT NULL,
    channel text NOT NULL,
    urgent boolean NOT NULL,
    platform_request_id text,
    requested_at timestamptz NOT NULL,
    -- Computed from the urgency (24 h, 4 h urgent), never taken from the client.
    deadline_at timestamptz NOT NULL,
    requested_by text NOT NULL,
    principal text,
    note text,
    status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'acknowledged', 'overdue', 'removed', 'refused')),
    overdue_at timestamptz,
    last_seen_live_at timestamptz,
    -- The first re-check that found the content gone, and what it saw.
    removed_at timestamptz,
    removal_kind text,
    -- The re-check schedule: due at next_check_at; a replica holds a lease while it fetches.
    next_check_at timestamptz,
    lease_owner text,
    lease_until timestamptz,
    checks integer NOT NULL DEFAULT 0
);
CREATE INDEX takedowns_case ON takedowns (case_id, requested_at);
CREATE INDEX takedowns_agency ON takedowns (agency_id, requested_at);
CREATE INDEX takedowns_due ON takedowns (next_check_at)
    WHERE status IN ('requested', 'acknowledged', 'overdue');
CREATE INDEX takedowns_deadline ON takedowns (deadline_at) WHERE status IN ('requested', 'acknowledged');

CREATE TABLE takedown_responses (
    response_id uuid PRIMARY KEY,
    takedown_id uuid NOT NULL REFERENCES takedowns (takedown_id),
    command_id uuid NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('acknowledged', 'refused', 'claims_removed')),
    reason text,
    platform_request_id text,
    responded_at timestamptz NOT NULL,
    actor text NOT NULL,
    principal text,
    note text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX takedown_responses_of ON takedown_responses (takedown_id, responded_at);

CREATE TABLE takedown_checks (
    id bigserial PRIMARY KEY,
    takedown_id uuid NOT NULL REFERENCES takedowns (takedown_id),
    checked_at timestamptz NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('live', 'removed', 'failed', 'refused')),
    http_status integer,
    removal_kind text,
    detail text
);
CREATE INDEX takedown_checks_of ON takedown_checks (takedown_id, id);
