-- The calls itemised on each invoice, as usage of its period or as a late-call adjustment.
{{ frozen_or_drafted('closed_invoice_calls', 'int_invoice_calls_drafted') }}
