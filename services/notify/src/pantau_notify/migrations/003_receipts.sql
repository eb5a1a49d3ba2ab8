-- Receipts answer a report before any case exists, so a delivery may belong to a report.
ALTER TABLE deliveries ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN report_id uuid;
CREATE UNIQUE INDEX deliveries_once_per_report ON deliveries (report_id, template)
    WHERE report_id IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN delivered_at timestamptz;
ALTER TABLE deliveries ADD COLUMN read_at timestamptz;
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
