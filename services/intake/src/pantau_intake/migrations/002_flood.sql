ALTER TABLE reports ADD COLUMN sender_flagged boolean NOT NULL DEFAULT false;
ALTER TABLE reports ADD COLUMN sender_reports_today integer;
