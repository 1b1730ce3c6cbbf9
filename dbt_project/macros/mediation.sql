{#- A dialled number as E.164 digits, with the switch's dial plan (DESIGN.md section 4): '+' or the
    international prefix means the country code follows; the national prefix stands for the switch's
    country code; a number with neither is national without its prefix. -#}
{% macro e164(dialled, calling_code, national_prefix, international_prefix) -%}
    case
        when {{ dialled }} is null or {{ dialled }} = '' then null
        when starts_with({{ dialled }}, '+') then substr({{ dialled }}, 2)
        when {{ international_prefix }} <> '' and starts_with({{ dialled }}, {{ international_prefix }})
            then substr({{ dialled }}, length({{ international_prefix }}) + 1)
        when {{ national_prefix }} <> '' and starts_with({{ dialled }}, {{ national_prefix }})
            then {{ calling_code }} || substr({{ dialled }}, length({{ national_prefix }}) + 1)
        else {{ calling_code }} || {{ dialled }}
    end
{%- endmacro %}

{#- E.164 digits: 7 to 15 digits, no leading zero. -#}
{% macro is_e164(number) -%}
    ({{ number }} is not null and length({{ number }}) between 7 and 15
     and try_cast({{ number }} as ubigint) is not null and not starts_with({{ number }}, '0'))
{%- endmacro %}

{#- Effective dating: valid_from inclusive, valid_to exclusive or open (DESIGN.md section 3).
    No OR in a join condition: DuckDB turns `valid_to is null or ...` into a nested-loop join (20x slower). -#}
{% macro effective_at(alias, at) -%}
    ({{ at }} >= {{ alias }}.valid_from and {{ at }} < coalesce({{ alias }}.valid_to, date '9999-12-31'))
{%- endmacro %}

{#- A dialplan context the operator's switches use for calls coming in (var `inbound_contexts`). -#}
{% macro is_inbound_context(context) -%}
    ({{ context }} in ('{{ var("inbound_contexts") | join("', '") }}'))
{%- endmacro %}
