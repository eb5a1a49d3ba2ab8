-- A reporter deleting a message (WhatsApp revoke): applied, never erased. The report keeps its
-- text and evidence; it is marked withdrawn and triage is told (report.revised).
ALTER TABLE reports ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE report_revisions ADD COLUMN change text NOT NULL DEFAULT 'edited';
