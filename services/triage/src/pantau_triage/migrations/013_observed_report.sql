-- What `as_report` needs beyond the post itself, so the report a finding became can be read
-- back exactly as it was published (`monitoring.report.get`): the calendar's region and whose
-- account it was (which decides the report's author handle).
ALTER TABLE observed_posts ADD COLUMN region_code text, ADD COLUMN account_kind text;
