-- RA-05: Zero-rated usage: a call with a price billed at zero.
-- One finding per call (int_ra_usage_reconciled).
{{ ra_usage_findings('RA-05', ['zero_rated_usage']) }}
