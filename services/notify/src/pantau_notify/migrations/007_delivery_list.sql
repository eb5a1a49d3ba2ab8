-- The agency's alerts newest first (`notification.deliveries`), paged by (created_at, delivery_id).
CREATE INDEX deliveries_agency_created ON deliveries (agency_id, created_at, delivery_id)
    WHERE case_id IS NOT NULL;
