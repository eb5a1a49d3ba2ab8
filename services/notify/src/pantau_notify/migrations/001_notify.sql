CREATE TABLE subscriptions (
    subscription_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    name text NOT NULL,
    channel text NOT NULL DEFAULT 'email',
    address text NOT NULL,
    -- Kemendagri code prefix: '33' is all of Central Java, '33.75' Kota Pekalongan only.
    region_prefix text,
    categories text[],
    min_priority integer NOT NULL DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agency_id, channel, address)
);
CREATE INDEX subscriptions_agency ON subscriptions (agency_id) WHERE active;

CREATE TABLE deliveries (
    delivery_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    agency_id text NOT NULL,
    subscription_id uuid NOT NULL REFERENCES subscriptions (subscription_id),
    channel text NOT NULL,
    recipient text NOT NULL,
    template text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    provider_message_id text,
    case_snapshot jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    failed_at timestamptz,
    -- At most one send of a template to a recipient per case, however often the event arrives.
    UNIQUE (case_id, subscription_id, template)
);
CREATE INDEX deliveries_case ON deliveries (case_id);

-- The latest known state of each case, merged from case events, for rendering alerts.
CREATE TABLE cases (
    case_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    snapshot jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
