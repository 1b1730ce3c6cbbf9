-- Every invoice line (recurring, bundle, one-time, usage, tier, adjustment, discount, tax), rounded to the
-- currency's minor unit; an invoice's total is the sum of its lines.
{{ frozen_or_drafted('closed_invoice_lines', 'int_invoice_lines_drafted') }}
