-- A WhatsApp sender's messages within a short window become one report: the conversation is
-- that report while it is open, its parts the messages, and it is stored when it falls quiet.
CREATE TABLE conversations (
    report_id uuid PRIMARY KEY,
    agency_id text NOT NULL,
    reporter_id text NOT NULL,
    opened_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    closed_at timestamptz
);
CREATE UNIQUE INDEX conversations_one_open ON conversations (agency_id, reporter_id) WHERE closed_at IS NULL;
CREATE INDEX conversations_due ON conversations (last_at) WHERE closed_at IS NULL;

CREATE TABLE conversation_parts (
    -- The message's own report id, so a redelivered message is found and not added twice.
    part_id uuid PRIMARY KEY,
    report_id uuid NOT NULL REFERENCES conversations (report_id),
    external_id text,
    kind text,
    content_digest text NOT NULL,
    received_at timestamptz NOT NULL,
    submission jsonb NOT NULL
);
CREATE INDEX conversation_parts_report ON conversation_parts (report_id, received_at);
CREATE INDEX conversation_parts_external ON conversation_parts (external_id);

ALTER TABLE report_revisions ADD COLUMN revises text;
