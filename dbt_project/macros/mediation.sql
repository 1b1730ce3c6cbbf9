{#- A dialled number as E.164 digits, with the switch's dial plan (docs/mediation.md): '+' or the
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

{#- Effective dating: valid_from inclusive, valid_to exclusive or open (docs/ingestion.md).
    No OR in a join condition: DuckDB turns `valid_to is null or ...` into a nested-loop join (20x slower). -#}
{% macro effective_at(alias, at) -%}
    ({{ at }} >= {{ alias }}.valid_from and {{ at }} < coalesce({{ alias }}.valid_to, date '9999-12-31'))
{%- endmacro %}

{#- A dialplan context the operator's switches use for calls coming in (var `inbound_contexts`). -#}
{% macro is_inbound_context(context) -%}
    ({{ context }} in ('{{ var("inbound_contexts") | join("', '") }}'))
{%- endmacro %}

{#- A count as the switches write it (Asterisk and FreeSWITCH durations, the carrier's seconds and part
    numbers: none of the layouts writes a decimal): 1 to 9 ASCII digits. A minus sign in front is read as
    the negative number it is, for the rules that reject negatives (negative_or_absurd_duration,
    invalid_partial); anything else is not a number (invalid_number_field). try_cast alone would read
    '10.5' as 11, '0x10' as 16, '1e1' and '1_0' as 10.
    Fast path: the text is the integer try_cast read, written back (a cast per record, 4 times cheaper than
    a regular expression); only the rest (leading zeros, '-0', the bad ones) meets the expression. -#}
{% macro strict_count(text) -%}
    {{ return(adapter.dispatch('strict_count')(text)) }}
{%- endmacro %}
{% macro default__strict_count(text) -%}
    case
        when cast(try_cast({{ text }} as integer) as varchar) = {{ text }} then try_cast({{ text }} as integer)
        when regexp_matches({{ text }}, '^-?[0-9]{1,9}$') then cast({{ text }} as integer)
    end
{%- endmacro %}

{#- The first of the raw columns `fields` that holds something other than a count, as 'column=value'
    (the reject's detail); null when all are counts or empty (an empty field is missing, not invalid). -#}
{% macro number_fault(fields) -%}
    case
    {%- for field in fields %}
        when {{ field }} <> '' and ({{ strict_count(field) }}) is null then '{{ field }}=' || {{ field }}
    {%- endfor %}
    end
{%- endmacro %}

{#- A signed whole number of at most 6 digits (a clock offset in seconds). -#}
{% macro is_signed_integer(text) -%}
    {{ return(adapter.dispatch('is_signed_integer')(text)) }}
{%- endmacro %}
{% macro default__is_signed_integer(text) -%}
    regexp_full_match({{ text }}, '-?[0-9]{1,6}')
{%- endmacro %}

{#- What a record says about its call, as one hash: two copies of one record identity that differ in it
    are a conflicting re-send. -#}
{% macro record_content(alias) -%}
    hash({{ alias }}.a_dialled, {{ alias }}.b_dialled, {{ alias }}.trunk_id, {{ alias }}.accountcode,
         {{ alias }}.route_id, {{ alias }}.start_at, {{ alias }}.answer_at, {{ alias }}.end_at,
         {{ alias }}.duration_s, {{ alias }}.billable_s, {{ alias }}.is_last_partial, {{ alias }}.disposition,
         {{ alias }}.q850_cause)
{%- endmacro %}
