-- Which account owns a trunk, a DID or an Asterisk accountcode on a switch, effective-dated.
select
    identifier_type,
    identifier,
    switch_id,
    account_id,
    cast(valid_from as date) as valid_from,
    cast(nullif(valid_to, '') as date) as valid_to,
    delivery_date
from ({{ latest_version('crm__service_assignments', ['identifier_type', 'identifier', 'switch_id', 'valid_from']) }})
