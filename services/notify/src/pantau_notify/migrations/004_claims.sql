-- A delivery is claimed ('sending') and committed before the network call, then recorded; the
-- claim expires unless its holder renews it, so a dead instance's sends are taken over. A
-- WhatsApp send whose answer was lost is 'unknown' until the status webhook says what happened.
ALTER TABLE deliveries ADD COLUMN claimed_until timestamptz;
