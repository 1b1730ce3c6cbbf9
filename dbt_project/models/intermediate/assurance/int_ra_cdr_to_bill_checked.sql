-- RA-03: CDR-to-bill match: calls rated and not billed, billed without a rated call, billed more than once.
-- One finding per call (int_ra_usage_reconciled).
{{ ra_usage_findings('RA-03', ['unbilled_usage', 'billed_without_usage', 'duplicate_billing']) }}
