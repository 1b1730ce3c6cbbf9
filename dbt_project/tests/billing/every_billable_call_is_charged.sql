-- A billed call has a charge unless a volume tier prices it: a missing FX rate must not bill it at nothing.
select * from {{ ref('int_calls_billed') }} where charge is null and not is_tiered
