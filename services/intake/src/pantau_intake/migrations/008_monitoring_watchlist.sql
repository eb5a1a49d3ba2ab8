-- The schedule follows triage's registries (monitoring.watchlist): what kind of account, whether
-- it had findings lately (checked more often), and when the registry last listed it. An account
-- the registry no longer lists is kept, with its posts, as 'unlisted' and no longer checked.
ALTER TABLE watched_accounts
    ADD COLUMN kind text NOT NULL DEFAULT 'participant' CHECK (kind IN ('participant', 'official', 'feed')),
    ADD COLUMN priority boolean NOT NULL DEFAULT false,
    ADD COLUMN region_code text NOT NULL DEFAULT '',
    ADD COLUMN listed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE watched_accounts DROP CONSTRAINT watched_accounts_state_check;
ALTER TABLE watched_accounts ADD CONSTRAINT watched_accounts_state_check
    CHECK (state IN ('active', 'gone', 'private', 'failing', 'unlisted'));
CREATE INDEX watched_accounts_agency ON watched_accounts (agency_id, state, last_success_at);
