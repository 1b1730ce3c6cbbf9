-- RA-09: Wrong plan: a call billed at another plan than its account's at the call (a finding whatever the amounts).
-- One finding per call (int_ra_usage_reconciled).
{{ ra_usage_findings('RA-09', ['wrong_plan']) }}
