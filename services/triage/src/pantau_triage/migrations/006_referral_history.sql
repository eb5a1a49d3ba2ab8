-- A routed agency's own referral state, in the history line that recorded it.
ALTER TABLE case_history ADD COLUMN referral_state text;
