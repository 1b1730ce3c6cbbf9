-- RA-04: Rating accuracy: a billed call's amount against tollhouse's re-rating at the same plan, beyond var ra_amount_tolerance.
-- One finding per call (int_ra_usage_reconciled).
{{ ra_usage_findings('RA-04', ['rating_discrepancy']) }}
