ALTER TABLE reports ADD COLUMN external_id text;
ALTER TABLE reports ADD COLUMN forwarded boolean NOT NULL DEFAULT false;
ALTER TABLE reports ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]';
