-- Referrals this instance sent to agencies on other instances, with what the partner reports.
-- The partner's case is the partner's: only its state, as it reported it, is kept here.
CREATE TABLE referrals_out (
    referral_id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    to_agency text NOT NULL,
    reason text NOT NULL,
    referred_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'declined')),
    partner_case_id uuid,
    partner_state text,
    partner_resolution text,
    last_sequence integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);
CREATE INDEX referrals_out_case ON referrals_out (case_id);

-- Every message a partner sent about a referral: the event id makes a redelivery a no-op, the
-- partner's sequence number orders them however late they arrive.
CREATE TABLE referral_updates (
    event_id uuid PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals_out (referral_id),
    sequence integer NOT NULL,
    at timestamptz NOT NULL,
    change text NOT NULL,
    actor text,
    state text,
    resolution text,
    note text,
    UNIQUE (referral_id, sequence)
);

-- Referrals received from other instances; each opened (or joined) a case of this instance.
CREATE TABLE referrals_in (
    referral_id uuid PRIMARY KEY,
    from_agency text NOT NULL,
    to_agency text NOT NULL,
    origin_case_id uuid NOT NULL,
    origin_url text,
    case_id uuid NOT NULL REFERENCES cases (case_id),
    reason text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'declined')),
    -- The last sequence number this instance sent back about the referral.
    sequence integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL,
    evidence jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX referrals_in_case ON referrals_in (case_id);
