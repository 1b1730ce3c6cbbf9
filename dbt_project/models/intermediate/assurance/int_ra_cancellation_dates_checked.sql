-- RA-08: Billing after cancellation: a subscription billed for days after it ended.
-- One finding per subscription and period (int_ra_charges_reconciled).
{{ ra_charge_findings('RA-08', ['billed_after_cancellation']) }}
