-- Who made each change besides the free-text actor, and the command that made it: a retried
-- command finds its id here and is not applied twice.
ALTER TABLE case_history ADD COLUMN agency_id text;
ALTER TABLE case_history ADD COLUMN principal text;
ALTER TABLE case_history ADD COLUMN command_id uuid;
CREATE UNIQUE INDEX case_history_command ON case_history (command_id) WHERE command_id IS NOT NULL;

-- What an agency a case was routed to records of its own handling; the owner's state is apart.
CREATE TABLE referrals (
    case_id uuid NOT NULL REFERENCES cases (case_id),
    agency_id text NOT NULL,
    state text NOT NULL,
    note text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, agency_id)
);

-- Agencies whose claims another agency's reports are matched against, besides its own.
CREATE TABLE claim_subscriptions (
    agency_id text NOT NULL,
    publisher text NOT NULL,
    PRIMARY KEY (agency_id, publisher)
);
CREATE INDEX claims_added_by ON claims (added_by);
