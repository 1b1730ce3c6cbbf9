-- RA-07: Subscriptions never billed: each subscription's charge per period on the invoice at its amount.
-- One finding per subscription and period (int_ra_charges_reconciled).
{{ ra_charge_findings('RA-07', ['subscription_not_billed', 'charge_without_order', 'charge_discrepancy']) }}
