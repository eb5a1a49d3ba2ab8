-- The audit log: one hash chain per agency (see pantau_gateway/audit.py for the encoding).
CREATE TABLE audit_log (
    agency_id text NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    -- user:<id>, key:<id>, link (a signed link in an alert), cli:<os user>
    principal text NOT NULL,
    -- The route (e.g. POST /v1/cases/{case_id}/transitions) or the command (cli add-user).
    action text NOT NULL,
    -- The HTTP status answered (0 for a command line).
    outcome integer NOT NULL,
    client_address text NOT NULL,
    detail jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (agency_id, seq)
);

-- The last entry of each chain; its row lock is what serialises appends across instances.
CREATE TABLE audit_heads (
    agency_id text PRIMARY KEY,
    seq bigint NOT NULL,
    hash bytea NOT NULL
);

-- Append-only for everyone who goes through the application; someone with the power to drop
-- this trigger can change rows, and `pantau-gateway verify-audit` then shows where.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
