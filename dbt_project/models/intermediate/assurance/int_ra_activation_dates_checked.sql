-- RA-20: Billed before activation: a subscription billed above its prorated charge, or at all, for a period
-- before or during which it started (int_ra_charges_reconciled: the service-date check RA-08 shares).
-- One finding per subscription and period.
{{ ra_charge_findings('RA-20', ['billed_before_activation']) }}
