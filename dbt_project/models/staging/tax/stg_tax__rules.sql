-- Tax rules by jurisdiction (the account's country) and charge type, effective-dated.
select
    jurisdiction,
    charge_type,
    tax_name,
    cast(tax_rate as decimal(9, 6)) as tax_rate,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('tax__tax_rules', ['jurisdiction', 'charge_type', 'tax_name', 'valid_from']) }})
