-- Every invoice with its totals, customer and dates: `closed` as frozen at its period's close, or `draft`
-- as the last billing run of an open period drafted it (closed_at null; numbers may still change).
{{ frozen_or_drafted('closed_invoices', 'int_invoices_drafted') }}
