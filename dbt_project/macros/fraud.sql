{#- The tables the fraud/scores asset writes (models/fraud/detection.py), created empty when missing, so the
    alert models build before any model has scored: then only the rules raise alerts. -#}
{% macro create_fraud_tables() -%}
create schema if not exists fraud;
create table if not exists fraud.model_scores (
    call_id varchar, model_score double, model_threshold double, model_version varchar
);
create table if not exists fraud.alert_decisions (
    alert_id varchar, status varchar, decided_by varchar, decided_at timestamp with time zone
);
{%- endmacro %}
