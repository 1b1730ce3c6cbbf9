"""Score what the pipeline found against the simulator's ground truth (data/ground_truth/injections.csv).

Each injection names its expected effect: `reject:<reason>` (a line rejected with that reason),
`quarantine:<reason>` (a file quarantined for that reason), `redelivery` (a file recognised as a copy),
and later stages' effects (`duplicate_record`, `suspense:...`), scored by the stage that owns them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


def ingestion_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> list[tuple]:
    """(kind, expected effect, injected, found) for every injection raw ingestion is responsible for."""
    _ground_truth_views(con, ground_truth)
    return con.execute(
        """
        with injections as (
            select * from gt_injections
            where expected_effect like 'reject:%' or expected_effect like 'quarantine:%'
               or expected_effect = 'redelivery'
        ),
        outcome as (
            select i.kind, i.expected_effect,
                   case
                       when i.expected_effect like 'reject:%' then r.reason = split_part(i.expected_effect, ':', 2)
                       when i.expected_effect like 'quarantine:%' then a.status = 'quarantined'
                            and split_part(a.reason, ':', 1) = split_part(i.expected_effect, ':', 2)
                       else a.status = 'redelivery'
                   end as found
            from injections i
            left join raw.load_audit a on a.path = i.file
            left join raw.rejects r on r.file_id = a.file_id and r.line_no = try_cast(i.line_no as bigint)
        )
        select kind, expected_effect, count(*) as injected, count(*) filter (where found) as found
        from outcome group by all order by kind
        """
    ).fetchall()


# Mediation's effects, and how each is checked against the marts:
# - duplicate_record / near_duplicate: the injected line is in fct_mediation_rejects with that reason;
# - suspense:unknown_account: the true call is in fct_suspense with that reason;
# - release_after_late_assignment: the true call is in fct_calls, owned by its true account, and was held;
# - corrected_time / resolve_ambiguous_local_time: the call's start, answer and end are the true UTC times;
# - late_arrival: the late file's calls are in fct_calls, on days before the file was delivered.
MEDIATION_EFFECTS = (
    "duplicate_record",
    "near_duplicate",
    "suspense:unknown_account",
    "release_after_late_assignment",
    "corrected_time",
    "resolve_ambiguous_local_time",
    "late_arrival",
)


def _ground_truth_views(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> None:
    con.execute(
        f"create or replace temp view gt_calls as select * from read_parquet('{ground_truth / 'calls.parquet'}')"
    )
    con.execute(
        "create or replace temp view gt_injections as "
        f"select * from read_csv('{ground_truth / 'injections.csv'}', header = true, all_varchar = true)"
    )


def mediation_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> list[tuple]:
    """(kind, expected effect, injected, found) for every injection mediation is responsible for."""
    _ground_truth_views(con, ground_truth)
    return con.execute(
        f"""
        with injections as (
            select i.*, a.file_id, a.delivery_date
            from gt_injections i
            left join raw.load_audit a on a.path = i.file
            where i.expected_effect in {MEDIATION_EFFECTS}
        ),
        truth as (
            select i.injection_id, g.*
            from injections i join gt_calls g on g.call_id = try_cast(i.call_id as bigint)
        ),
        mediated as (
            select t.injection_id, f.*,
                   f.start_at = timezone('UTC', t.start_at) and f.end_at = timezone('UTC', t.end_at)
                   and f.answer_at is not distinct from timezone('UTC', t.answer_at) as true_times,
                   f.account_id = t.account_id::varchar as true_owner
            from truth t join marts.fct_calls f on f.source = t.source::varchar and f.record_key = t.record_key
        ),
        suspended as (
            select t.injection_id, s.reason
            from truth t join marts.fct_suspense s on s.source = t.source::varchar and s.record_key = t.record_key
        ),
        late_files as (
            select i.injection_id,
                   count(f.call_id) > 0 and max(f.call_date) < any_value(i.delivery_date) as found
            from injections i left join marts.fct_calls f on f.file_id = i.file_id
            where i.expected_effect = 'late_arrival'
            group by i.injection_id
        ),
        outcome as (
            select i.kind, i.expected_effect,
                   case i.expected_effect
                       when 'duplicate_record' then r.reason = 'duplicate_record'
                       when 'near_duplicate' then r.reason = 'near_duplicate'
                       when 'suspense:unknown_account' then s.reason = 'unknown_account'
                       when 'release_after_late_assignment' then m.true_owner and m.was_suspended
                       when 'late_arrival' then l.found
                       else m.true_times
                   end as found
            from injections i
            left join marts.fct_mediation_rejects r
                on r.file_id = i.file_id and r.line_no = try_cast(i.line_no as bigint)
            left join mediated m using (injection_id)
            left join suspended s using (injection_id)
            left join late_files l using (injection_id)
        )
        select kind, expected_effect, count(*) as injected, count(*) filter (where found) as found
        from outcome group by all order by kind
        """
    ).fetchall()


def call_accuracy(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> dict[str, int]:
    """How the true calls came out of mediation, field by field.

    `lost` counts true calls that are neither a call nor in suspense although no line of theirs was
    rejected at ingestion: a genuine call merged away or dropped. `wrong_*` compare mediated calls only;
    Q.850 causes where the switch writes them (FreeSWITCH, carrier): Asterisk writes a disposition only.
    """
    _ground_truth_views(con, ground_truth)
    row = con.execute(
        """
        with truth as (
            select g.*, a.file_id
            from gt_calls g left join raw.load_audit a on a.path = g.file::varchar
        ),
        joined as (
            select t.*, f.call_id as mediated_id, s.call_id as suspended_id, r.reason as ingestion_reason,
                   f.start_at as m_start, f.answer_at as m_answer, f.end_at as m_end, f.account_id as m_account,
                   f.a_number as m_a, f.b_number as m_b, f.billable_seconds as m_billable,
                   f.disposition as m_disposition, f.q850_cause as m_cause, f.call_type as m_type,
                   f.direction as m_direction, f.destination_country as m_country
            from truth t
            left join marts.fct_calls f on f.source = t.source::varchar and f.record_key = t.record_key
            left join marts.fct_suspense s on s.source = t.source::varchar and s.record_key = t.record_key
            left join raw.rejects r on r.file_id = t.file_id and r.line_no = t.line_no
        )
        select
            count(*) as true_calls,
            count(mediated_id) as mediated,
            count(suspended_id) as suspended,
            count(ingestion_reason) as rejected_at_ingestion,
            count(*) filter (where mediated_id is null and suspended_id is null and ingestion_reason is null) as lost,
            count(*) filter (where mediated_id is not null and (
                m_start <> timezone('UTC', start_at) or m_end <> timezone('UTC', end_at)
                or m_answer is distinct from timezone('UTC', answer_at))) as wrong_times,
            count(*) filter (where mediated_id is not null and m_account is distinct from account_id::varchar)
                as wrong_account,
            count(*) filter (where mediated_id is not null and (m_a is distinct from a_number or m_b <> b_number))
                as wrong_numbers,
            count(*) filter (where mediated_id is not null and m_billable <> billable_seconds) as wrong_billable,
            count(*) filter (where mediated_id is not null and m_disposition <> disposition::varchar)
                as wrong_disposition,
            count(*) filter (where mediated_id is not null and source::varchar <> 'asterisk'
                             and m_cause is distinct from q850_cause) as wrong_q850,
            count(*) filter (where mediated_id is not null and m_type <> call_type::varchar) as wrong_call_type,
            count(*) filter (where mediated_id is not null and m_direction <> direction::varchar) as wrong_direction,
            count(*) filter (where mediated_id is not null
                             and m_country is distinct from destination_country::varchar) as wrong_country
        from joined
        """
    ).fetchone()
    names = [d[0] for d in con.description]
    return dict(zip(names, row, strict=True))


def rating_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> list[tuple]:
    """(kind, expected effect, injected, found) for the faults rating owns: calls to a range no plan prices
    (held in rating suspense as unknown_destination), and the mispriced customer rate and the vendor
    priced above retail that the simulator's manifest names (each a rate that loses money in
    rpt_rating_margin)."""
    _ground_truth_views(con, ground_truth)
    events = json.loads((ground_truth / "manifest.json").read_text())["events"]
    (missing, held) = con.execute(
        """
        select count(*), count(s.call_id)
        from gt_injections i
        join gt_calls g on g.call_id = try_cast(i.call_id as bigint)
        left join marts.fct_calls f on f.source = g.source::varchar and f.record_key = g.record_key
        left join marts.fct_rating_suspense s on s.call_id = f.call_id and s.reason = 'unknown_destination'
        where i.expected_effect = 'suspense:unknown_destination'
        """
    ).fetchone()
    mispriced, vendor = events["mispriced_rate"], events["negative_margin"]
    (mispriced_found,) = con.execute(
        """select count(*) > 0 from marts.rpt_rating_margin
           where rate_plan_id = ? and matched_prefix = ? and rate_valid_from = ? and is_negative""",
        [mispriced["rate_plan_id"], mispriced["prefix"], mispriced["valid_from"]],
    ).fetchone()
    (vendor_found,) = con.execute(
        "select count(*) > 0 from marts.rpt_rating_margin where vendor_id = ? and vendor_matched_prefix = ? "
        "and is_negative",
        [vendor["vendor_id"], vendor["prefix"]],
    ).fetchone()
    return [
        ("missing_destination", "suspense:unknown_destination", missing, held),
        ("mispriced_rate", "negative margin at that rate version", 1, int(mispriced_found)),
        ("negative_margin", "negative margin at that vendor rate", 1, int(vendor_found)),
    ]


def losing_rates(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple]:
    """The customer and vendor rates whose outbound calls lose money, worst first."""
    return con.execute(
        """select rate_plan_id, matched_prefix, rate_valid_from::varchar, vendor_id, vendor_matched_prefix,
                  calls, revenue::varchar, vendor_cost::varchar, margin::varchar, currency
           from marts.rpt_rating_margin where is_negative order by margin limit ?""",
        [limit],
    ).fetchall()
