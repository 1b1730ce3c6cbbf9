"""Invoice documents (docs/billing.md): formatting.py (operator, money and number formatting, masking), document.py
(one view of an invoice), html.py and pdf.py (the two renderings), exports.py (ERP and ledger files), period.py (a
billing period's documents from the warehouse)."""
