"""Score what the pipeline found against the simulator's ground truth (data/ground_truth/injections.csv).

Each injection names its expected effect: `reject:<reason>` (a line rejected with that reason),
`quarantine:<reason>` (a file quarantined for that reason), `redelivery` (a file recognised as a copy),
and later stages' effects (`duplicate_record`, `suspense:...`), scored by the stage that owns them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb

from orchestration.warehouse import sql_literal


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
    # views take no parameters: the paths are quoted (a data folder's name may hold quotes)
    con.execute(
        "create or replace temp view gt_calls as "
        f"select * from read_parquet({sql_literal(ground_truth / 'calls.parquet')})"
    )
    con.execute(
        "create or replace temp view gt_injections as "
        f"select * from read_csv({sql_literal(ground_truth / 'injections.csv')}, header = true, all_varchar = true)"
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


# Revenue assurance: each kind the simulator injects, the control that must find it and the finding type.
# Leaks of the billing system's export (ground_truth/leakage.csv) are matched by the call's CDR identity or
# the subscription and period; collection faults (payments.csv) by invoice and the finding the simulator
# expects once the invoice is due by the data's as-of day (earlier, nothing is late yet); ingestion faults
# by file; suspense by call, once held past the control's age; late files by file (their calls in a period
# closed before they were loaded: the period log and the load audit say when); the manifest's
# negative-margin and mispriced rates by rate.
LEAKAGE_EXPECTED = {
    "unbilled_call": ("RA-03", "unbilled_usage"),
    "duplicate_line": ("RA-03", "duplicate_billing"),
    "wrong_rate": ("RA-04", "rating_discrepancy"),
    "zero_rated": ("RA-05", "zero_rated_usage"),
    "subscription_not_billed": ("RA-07", "subscription_not_billed"),
    "billed_after_cancellation": ("RA-08", "billed_after_cancellation"),
    "wrong_plan": ("RA-09", "wrong_plan"),
}
COLLECTION_CONTROL = "RA-15"  # scored by the finding payments.csv expects on each invoice due
REJECT_KINDS = ("malformed_line", "truncated_line", "unescaped_quote", "encoding_error")
QUARANTINE_KINDS = ("corrupt_gzip", "unknown_layout")
SCORE_COLUMNS = (
    "control_id", "kind", "finding_type", "injected", "found", "injected_value", "found_value",
    "findings", "unmatched_findings",
)  # fmt: skip


def _exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, name]).fetchone()[0] > 0


def _legacy_ground_truth(ground_truth: Path) -> bool:
    """The billing system's leaks, payment faults, injections and manifest the per-kind scorecard reads."""
    names = ("leakage.csv", "payments.csv", "injections.csv", "manifest.json", "calls.parquet")
    return all((ground_truth / name).exists() for name in names)


def _legacy_matches(con: duckdb.DuckDBPyConnection, ground_truth: Path, suspense_age_days: int) -> None:
    """Temp tables for the simulator's original kinds (leakage.csv, payments.csv, injections.csv, the
    manifest's rates): ra_legacy_findings (every finding with the key it is matched on), ra_legacy_scored
    (every injection with the finding that found it, if any) and ra_legacy_matched (finding ids that match one)."""
    _ground_truth_views(con, ground_truth)
    con.execute(
        f"""create or replace temp view gt_leakage as
            select * from read_csv({sql_literal(ground_truth / "leakage.csv")}, header = true, all_varchar = true)"""
    )
    con.execute(
        f"""create or replace temp view gt_payments as
            select * from read_csv({sql_literal(ground_truth / "payments.csv")}, header = true, all_varchar = true)"""
    )
    events = json.loads((ground_truth / "manifest.json").read_text()).get("events") or {}
    # the manifest's losing rates (a simulation without faults has none)
    rates = []
    if mispriced := events.get("mispriced_rate"):
        rates.append(f"('mispriced_rate', '{mispriced['rate_plan_id']}|{mispriced['prefix']}|%')")
    if vendor := events.get("negative_margin"):
        rates.append(f"('negative_margin', '%|{vendor['vendor_id']}|{vendor['prefix']}')")
    losing = ", ".join(rates) or "(null, null)"
    expected = ", ".join(f"('{kind}', '{c}', '{t}')" for kind, (c, t) in LEAKAGE_EXPECTED.items())
    con.execute(
        """create or replace temp table ra_legacy_findings as
        select f.finding_id, f.control_id, f.finding_type, f.leakage_amount,
               case
                   when f.control_id in ('RA-03', 'RA-04', 'RA-05', 'RA-09') then r.source || '|' || r.record_key
                   when f.control_id in ('RA-07', 'RA-08') then f.subject || '|' || f.billing_period
                   when f.control_id = 'RA-11' then coalesce(s.source || '|' || s.record_key,
                                                              c.source || '|' || c.record_key)
                   when f.control_id = 'RA-10' then a.path
                   else f.subject
               end as match_key
        from marts.fct_leakage_findings f
        left join intermediate.int_ra_usage_reconciled r
            on f.control_id in ('RA-03', 'RA-04', 'RA-05', 'RA-09')
            and coalesce(r.call_id, r.source || ':' || r.record_key) = f.subject
        left join marts.fct_suspense s on f.control_id = 'RA-11' and s.call_id = f.subject
        left join marts.fct_calls c on f.control_id in ('RA-10', 'RA-11') and c.call_id = f.subject
        left join raw.load_audit a on f.control_id = 'RA-10' and a.file_id = c.file_id"""
    )
    con.execute(
        f"""
        create or replace temp table ra_legacy_scored as
        with expected(kind, control_id, finding_type) as (values {expected}),
        truth as (
            select l.kind, e.control_id, e.finding_type, l.source || '|' || l.record_key as match_key,
                   cast(l.leakage_amount as decimal(18, 6)) as value
            from gt_leakage l join expected e using (kind) where l.record_key <> ''
            union all
            select l.kind, e.control_id, e.finding_type, l.subscription_id || '|' || l.billing_period,
                   cast(l.leakage_amount as decimal(18, 6))
            from gt_leakage l join expected e using (kind) where l.subscription_id <> ''
            union all
            -- what the collection control must find on each invoice due by the as-of day, as the simulator
            -- worked it out (payments on account settle the oldest balances first)
            select p.kind, 'RA-15', p.expected_finding, p.invoice_number,
                   cast(p.expected_outstanding as decimal(18, 6))
            from gt_payments p
            where p.expected_finding <> ''
              and p.billing_period in (select cast(billing_period as varchar) from intermediate.int_ra_periods_selected)
        ),
        truth_other as (
            -- ingestion faults by file, suspense by call once aged, late files by file
            select i.kind, 'RA-01' as control_id,
                   case when i.kind in {QUARANTINE_KINDS} then 'file_quarantined' else 'lines_not_mediated' end
                       as finding_type,
                   i.file as match_key
            from gt_injections i where i.kind in {REJECT_KINDS + QUARANTINE_KINDS}
            union all
            select i.kind, 'RA-11', 'suspense_aged', g.source::varchar || '|' || g.record_key
            from gt_injections i join gt_calls g on g.call_id = try_cast(i.call_id as bigint)
            where i.kind in ('unknown_trunk', 'missing_destination')
              and (exists (select 1 from marts.fct_suspense s where s.source = g.source::varchar
                           and s.record_key = g.record_key and s.age_days > {suspense_age_days})
                   or exists (select 1 from marts.fct_rating_suspense s join marts.fct_calls f using (call_id)
                              where f.source = g.source::varchar and f.record_key = g.record_key
                                and s.age_days > {suspense_age_days}))
            union all
            select distinct i.kind, 'RA-10', 'late_usage_after_close', i.file
            from gt_injections i
            join raw.load_audit a on a.path = i.file
            join marts.fct_calls f on f.file_id = a.file_id
            join intermediate.int_billing_periods_bounded p
                on p.account_id = f.account_id and f.answer_at >= p.period_start_at and f.answer_at < p.period_end_at
            join (select billing_period, min(acted_at) as closed_at from billing.period_log
                  where action = 'close' group by 1) c on c.billing_period = p.billing_period
            where i.kind = 'late_file' and f.billable_seconds > 0 and a.loaded_at > c.closed_at
            union all
            select kind, 'RA-12', 'negative_margin', pattern from (values {losing}) rates(kind, pattern)
            where kind is not null
        )
        select t.control_id, t.kind, t.finding_type, t.match_key, t.value, f.finding_id, f.leakage_amount
        from truth t
        left join ra_legacy_findings f on f.finding_type = t.finding_type and f.match_key = t.match_key
        union all
        select t.control_id, t.kind, t.finding_type, t.match_key, null, f.finding_id, null
        from truth_other t
        left join ra_legacy_findings f on f.finding_type = t.finding_type
            and (f.match_key = t.match_key or (t.control_id = 'RA-12' and f.match_key like t.match_key))
        """
    )
    con.execute(
        """
        create or replace temp table ra_legacy_matched as
        -- a fraud incident is real traffic: a switch-day its calls push over the volume band is explained by
        -- it (the simulator cannot know which do, so they are not counted as injected)
        with fraud_days as (
            select distinct f.switch_id || ':' || f.call_date as match_key
            from gt_calls g join marts.fct_calls f on f.source = g.source::varchar and f.record_key = g.record_key
            where g.fraud_incident_id is not null
        )
        select distinct finding_id from ra_legacy_scored where finding_id is not null
        union
        select finding_id from ra_legacy_findings
        where control_id = 'RA-14' and finding_type = 'volume_spike' and match_key in (select * from fraud_days)
        union
        -- any control's finding about a landed file the simulator injected a fault into (a re-delivered copy,
        -- a corrupt file) is explained by it, though this scorecard has no row for that control
        select finding_id from marts.fct_leakage_findings where subject in (select file from gt_injections)
        """
    )


def leak_matches(con: duckdb.DuckDBPyConnection, ground_truth: Path) -> None:
    """Match the findings against ground_truth/leaks.csv (any leakage family, including ones written later or
    by someone else): temp tables ra_leaks (one row per leak, its value as a decimal) and ra_leak_matches
    (leak_id, finding_id, covers) for every finding that is about a leak; `covers` when it finds it.

    A finding covers a leak when it is about the same account (or the leak names none) and period (or the
    leak names none), its direction is compatible (the same, or either is `none`: a control that values
    nothing, or a leak that costs nothing), and
    - it names the leak's subject: finding.subject = leak.subject, or the subject appears in it as a whole
      token (`<switch>|<hour>` in a longer key, a landed path), not for call leaks: a true call id is no
      warehouse key; or
    - it names one of the leak's calls: a true call (call_ids, or the subject of a call leak) is mapped to
      the call mediation made of it through calls.parquet's source and record key (fct_calls, or
      fct_suspense while held) and matches the finding's subject or one of its evidence call ids; or its
      `source:record_key` (a billed line of a call mediation never saw) is the finding's subject; or
    - the leak is about an account and the finding is account-level: same account and period, its subject
      empty or the account id.

    A finding that would cover a leak but for its direction (the billing system billed the calls of a file
    that never arrived: billed without usage, over-billing, where the leak is the lost usage) is about the
    leak: it is not spurious, but it does not find it (`covers` false).
    """
    leaks = ground_truth / "leaks.csv"
    con.execute(
        "create or replace temp table ra_leaks (leak_id varchar, family varchar, mix varchar, area varchar, "
        "account_id varchar, billing_period date, currency varchar, subject_kind varchar, subject varchar, "
        "call_ids varchar, value decimal(18, 6), direction varchar, is_estimate boolean)"
    )
    con.execute("create or replace temp table ra_leak_matches (leak_id varchar, finding_id varchar, covers boolean)")
    if not leaks.exists() or not leaks.read_text(encoding="utf-8").strip():
        return
    con.execute(
        f"""insert into ra_leaks
            select leak_id, family, mix, area, nullif(account_id, ''), try_cast(nullif(billing_period, '') as date),
                   nullif(currency, ''), subject_kind, subject, coalesce(call_ids, ''),
                   cast(coalesce(nullif(leakage_amount, ''), '0') as decimal(18, 6)), coalesce(direction, 'none'),
                   coalesce(is_estimate, 'false') = 'true'
            from read_csv({sql_literal(leaks)}, header = true, all_varchar = true)"""
    )
    # the calls mediation made of each leak's true calls (no ground-truth calls: no call can match)
    true_calls = ground_truth / "calls.parquet"
    mediated = ["select null::varchar as source, null::varchar as record_key, null::varchar as call_id where false"]
    if true_calls.exists():
        for table in ("fct_calls", "fct_suspense"):
            if _exists(con, "marts", table):
                mediated.append(f"select source, record_key, call_id from marts.{table}")
    con.execute(
        f"""
        create or replace temp table ra_leak_keys as
        with leak_calls as (
            select leak_id, try_cast(trim(unnest(string_split(call_ids, ';'))) as bigint) as true_call_id
            from ra_leaks where call_ids <> ''
            union
            select leak_id, try_cast(subject as bigint) from ra_leaks where subject_kind = 'call'
        ),
        mediated as ({" union all ".join(mediated)}),
        truth as (
            {
            "select call_id, source::varchar as source, record_key from read_parquet(" + sql_literal(true_calls) + ")"
            if true_calls.exists()
            else "select null::bigint as call_id, null::varchar as source, null::varchar as record_key where false"
        }
        )
        select distinct c.leak_id, m.call_id as key, true as is_call
        from leak_calls c
        join truth t on t.call_id = c.true_call_id
        join mediated m on m.source = t.source and m.record_key = t.record_key
        union
        select c.leak_id, t.source || ':' || t.record_key, true
        from leak_calls c join truth t on t.call_id = c.true_call_id
        union all
        select leak_id, subject, false from ra_leaks where subject_kind <> 'call' and coalesce(subject, '') <> ''
        """
    )
    con.execute(
        """
        insert into ra_leak_matches
        with candidates as (
            select l.leak_id, l.subject_kind, l.account_id as leak_account, f.finding_id, f.account_id,
                   coalesce(f.subject, '') as subject, coalesce(f.evidence_call_ids, []) as evidence,
                   f.direction = l.direction or 'none' in (f.direction, l.direction) as covers
            from ra_leaks l
            join marts.fct_leakage_findings f
                on (l.account_id is null or f.account_id = l.account_id)
                and (l.billing_period is null or f.billing_period = l.billing_period)
        )
        select c.leak_id, c.finding_id, bool_or(c.covers)
        from candidates c
        where (c.subject_kind = 'account' and c.subject in ('', c.account_id))
           or exists (
               select 1 from ra_leak_keys k
               where k.leak_id = c.leak_id
                 and (c.subject = k.key
                      or (k.is_call and list_contains(c.evidence, k.key))
                      or (not k.is_call and regexp_matches(
                              c.subject, '(^|[^A-Za-z0-9])' || regexp_escape(k.key) || '($|[^A-Za-z0-9])')))
           )
        group by c.leak_id, c.finding_id
        """
    )


def _matched_findings(con: duckdb.DuckDBPyConnection, ground_truth: Path, suspense_age_days: int) -> None:
    """Temp table ra_matched(finding_id): the findings that match an injection of any ground truth."""
    legacy = _legacy_ground_truth(ground_truth)
    if legacy:
        _legacy_matches(con, ground_truth, suspense_age_days)
    else:  # a ground truth with leaks.csv only: no per-kind rows
        con.execute(
            "create or replace temp table ra_legacy_scored (control_id varchar, kind varchar, finding_type varchar, "
            "match_key varchar, value decimal(18, 6), finding_id varchar, leakage_amount decimal(18, 6))"
        )
    leak_matches(con, ground_truth)
    con.execute(
        "create or replace temp table ra_matched as select finding_id from ra_leak_matches"
        + (" union select finding_id from ra_legacy_matched" if legacy else "")
    )
    # RA-24 derives from other findings: a refund owed is explained when an over-billing finding on the same
    # invoice (account, period, currency) is
    con.execute(
        """insert into ra_matched
           select r.finding_id from marts.fct_leakage_findings r
           where r.control_id = 'RA-24' and r.finding_id not in (select finding_id from ra_matched)
             and exists (select 1 from marts.fct_leakage_findings f join ra_matched m using (finding_id)
                         where f.direction = 'over_billing' and f.account_id = r.account_id
                           and f.billing_period = r.billing_period and f.currency = r.currency)"""
    )


FAMILY_COLUMNS = (
    "family", "mix", "area", "leaks", "found", "injected_value", "found_value", "estimated",
    "findings", "findings_leakage",
)  # fmt: skip


def family_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path, mix: str | None = None) -> list[dict]:
    """Per leakage family of ground_truth/leaks.csv (of `mix` when given): leaks injected and found, the
    injected value and the value found (a found leak counts its own injected value, in its currency), the
    leaks whose value is an estimate, and the distinct findings that cover its leaks with their leakage."""
    leak_matches(con, ground_truth)
    rows = con.execute(
        """
        with per_leak as (
            select l.leak_id, l.family, l.mix, l.area, l.value, l.is_estimate,
                   exists (select 1 from ra_leak_matches m where m.leak_id = l.leak_id and m.covers) as found
            from ra_leaks l where ?::varchar is null or l.mix = ?
        ),
        per_family as (
            select family, mix, area, count(*) as leaks, count(*) filter (where found) as found,
                   sum(value) as injected_value, coalesce(sum(value) filter (where found), 0) as found_value,
                   count(*) filter (where is_estimate) as estimated
            from per_leak group by all
        ),
        family_findings as (
            select distinct l.family, l.mix, l.area, f.finding_id, f.leakage_amount
            from per_leak l join ra_leak_matches m using (leak_id)
            join marts.fct_leakage_findings f using (finding_id)
            where m.covers
        )
        select p.family, p.mix, p.area, p.leaks, p.found, p.injected_value, p.found_value, p.estimated,
               count(ff.finding_id), coalesce(sum(ff.leakage_amount), 0)
        from per_family p left join family_findings ff using (family, mix, area)
        group by all order by p.area, p.family
        """,
        [mix, mix],
    ).fetchall()
    return [dict(zip(FAMILY_COLUMNS, row, strict=True)) for row in rows]


def covering_leakage(con: duckdb.DuckDBPyConnection, ground_truth: Path, mix: str | None = None) -> Decimal:
    """The leakage of the distinct findings that find a leak (of `mix` when given), each counted once
    however many leaks or families it covers: to set against the injected value."""
    leak_matches(con, ground_truth)
    (total,) = con.execute(
        """select coalesce(sum(leakage_amount), 0) from marts.fct_leakage_findings
           where finding_id in (select m.finding_id from ra_leak_matches m join ra_leaks l using (leak_id)
                                where m.covers and (?::varchar is null or l.mix = ?))""",
        [mix, mix],
    ).fetchone()
    return total


def spurious_findings(con: duckdb.DuckDBPyConnection, ground_truth: Path, suspense_age_days: int) -> list[dict]:
    """Per control: its findings and those that match no injection of any ground truth (leaks.csv, the
    billing system's leakage.csv, payments.csv, injections.csv and the manifest's rates), with the ids of
    the first few unmatched for whoever looks into them."""
    _matched_findings(con, ground_truth, suspense_age_days)
    rows = con.execute(
        """
        select f.control_id, count(*) as findings,
               count(*) filter (where m.finding_id is null) as spurious,
               coalesce(sum(f.leakage_amount) filter (where m.finding_id is null), 0) as spurious_leakage,
               list(f.finding_id order by f.finding_id) filter (where m.finding_id is null)[1:5] as examples
        from marts.fct_leakage_findings f
        left join (select distinct finding_id from ra_matched) m using (finding_id)
        group by f.control_id order by f.control_id
        """
    ).fetchall()
    names = ("control_id", "findings", "spurious", "spurious_leakage", "examples")
    return [dict(zip(names, row, strict=True)) for row in rows]


def leakage_scorecard(con: duckdb.DuckDBPyConnection, ground_truth: Path, suspense_age_days: int) -> list[dict]:
    """Per control and injected kind of the simulator's billing system, payment and ingestion faults:
    injected and found (count, and value where the simulator knows the money: the sum of the injected
    leakage and of the matching findings' leakage, in account currencies), and the control's findings that
    match no injection (of these kinds nor of leaks.csv's families; a volume spike on a day of fraud calls is
    explained by the fraud). One row per control with findings but no injections (unmatched by definition)."""
    _matched_findings(con, ground_truth, suspense_age_days)
    rows = con.execute(
        """
        with per_kind as (
            select control_id, kind, finding_type,
                   count(distinct match_key) as injected,
                   count(distinct match_key) filter (where finding_id is not null) as found,
                   sum(value) as injected_value,
                   sum(leakage_amount) as found_value
            from ra_legacy_scored group by all
        ),
        per_control as (
            select control_id, count(*) as findings,
                   count(*) filter (where finding_id not in (select finding_id from ra_matched)) as unmatched
            from marts.fct_leakage_findings group by control_id
        )
        select coalesce(k.control_id, c.control_id) as control_id, k.kind, k.finding_type,
               coalesce(k.injected, 0), coalesce(k.found, 0), k.injected_value, k.found_value,
               coalesce(c.findings, 0), coalesce(c.unmatched, 0)
        from per_kind k full outer join per_control c using (control_id)
        order by 1, 2
        """
    ).fetchall()
    return [dict(zip(SCORE_COLUMNS, row, strict=True)) for row in rows]
