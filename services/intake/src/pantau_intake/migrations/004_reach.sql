ALTER TABLE reports ADD COLUMN reach bigint;
