-- Patrol teams work 24-hour rosters: an alert goes to whoever is on duty, in order, and is
-- escalated to the next person, then the supervisor, when nobody acknowledges it in time.
CREATE TABLE teams (
    team_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    name text NOT NULL,
    region_prefix text,
    categories text[],
    min_priority integer NOT NULL DEFAULT 0,
    ack_minutes integer NOT NULL DEFAULT 15,
    supervisor_email text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agency_id, name)
);

CREATE TABLE team_members (
    member_id uuid PRIMARY KEY,
    team_id uuid NOT NULL REFERENCES teams (team_id),
    name text NOT NULL,
    email text,
    whatsapp text,
    position integer NOT NULL DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    UNIQUE (team_id, name)
);

-- On duty on these ISO weekdays (1 = Monday) between these local times of the team's region;
-- a shift whose end is before its start runs past midnight.
CREATE TABLE shifts (
    shift_id bigserial PRIMARY KEY,
    member_id uuid NOT NULL REFERENCES team_members (member_id),
    weekdays integer[] NOT NULL,
    starts time NOT NULL,
    ends time NOT NULL
);
CREATE INDEX shifts_member ON shifts (member_id);

ALTER TABLE deliveries ALTER COLUMN subscription_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN recipient_key text;
UPDATE deliveries SET recipient_key = subscription_id::text;
ALTER TABLE deliveries ALTER COLUMN recipient_key SET NOT NULL;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_case_id_subscription_id_template_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_once UNIQUE (case_id, recipient_key, template);
ALTER TABLE deliveries ADD COLUMN team_id uuid REFERENCES teams (team_id);
ALTER TABLE deliveries ADD COLUMN member_id uuid REFERENCES team_members (member_id);
ALTER TABLE deliveries ADD COLUMN escalation_level integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN ack_due_at timestamptz;
ALTER TABLE deliveries ADD COLUMN escalated boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE deliveries ADD COLUMN acknowledged_by text;
CREATE INDEX deliveries_escalation_due ON deliveries (ack_due_at)
    WHERE team_id IS NOT NULL AND NOT escalated AND acknowledged_at IS NULL;
