-- What raised a case's priority besides its categories (author, calendar stage, look-alike,
-- reach), kept so a recomputation when reports are attached keeps them.
ALTER TABLE cases ADD COLUMN priority_factors jsonb NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN reach bigint;
