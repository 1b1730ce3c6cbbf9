"""Plain pandas baselines of the benchmark's steps: the core of the same work, as an analyst would write it
without tollhouse, on the same data (each docstring says what it leaves out). Their results are compared with
tollhouse's where the step says so."""

from __future__ import annotations

import time
from pathlib import Path

from orchestration.ingestion.layouts import CDR_SOURCES
from orchestration.settings import REPO_ROOT
from tools.bench.steps import PANDAS_CHUNK, billing_month


def step_pandas_ingest(data: Path, calls: int) -> dict:
    """Baseline: plain pandas doing the core of the same job file by file: read the switch files as text
    columns (bad lines skipped, so without rejects, line numbers of rejected lines or an audit) and append
    them to a DuckDB table opened as tollhouse opens its warehouse."""
    import pandas as pd

    from orchestration.ingestion.layouts import match_layout
    from orchestration.warehouse import connect

    db = data / "pandas_baseline.duckdb"
    db.unlink(missing_ok=True)
    lines = files = 0
    with connect(db) as con:
        for source in CDR_SOURCES:
            for path in sorted((data / "landing" / source).rglob("*.csv*")):
                layout = match_layout(source, path.name)
                try:
                    frame = pd.read_csv(
                        path, header=0 if layout and layout.has_header else None, dtype=str, on_bad_lines="skip",
                        keep_default_na=False, engine="c",
                    )  # fmt: skip
                except Exception:  # corrupt gzip, unknown layout: the baseline just skips the file
                    continue
                frame.columns = [f"c{i}" for i in range(len(frame.columns))]
                frame.insert(0, "line_no", range(1, len(frame) + 1))
                frame.insert(0, "file", str(path))
                table = f"{source}_{len(frame.columns)}"
                con.register("frame", frame)
                con.execute(f"create table if not exists {table} as select * from frame limit 0")
                con.execute(f"insert into {table} select * from frame")
                con.unregister("frame")
                lines += len(frame)
                files += 1
    db.unlink()
    return {"items": lines, "unit": "lines", "files": files}


def step_pandas_mediate(data: Path, calls: int) -> dict:
    """Baseline: plain pandas doing the core of mediation, source by source, as an analyst would write it
    without tollhouse: raw CDRs to UTC times and E.164 numbers with the switch's zone and dial plan, exact
    duplicates dropped (first delivered kept), the carrier's partial records assembled, near-duplicates
    dropped, each call's owner found from its trunk, and the calls written to a DuckDB table.
    Not done, where tollhouse's mediation does it: rejects with reasons (a bad value just becomes NaT or NA
    and the record goes on), switch configurations by date, DST fall-back (see below), clock-fault
    corrections, owners by accountcode or DID, incomplete partial calls (dropped, never released when stale),
    dispositions, direction and call types, conservation and suspense release."""
    import numpy as np
    import pandas as pd
    import yaml

    from orchestration.warehouse import connect

    rules = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    tolerance = pd.Timedelta(seconds=rules["near_duplicate_tolerance_s"])
    columns = {  # raw columns in one vocabulary; times are local text for the switches, UTC for the carrier
        "asterisk": """uniqueid as record_key, dcontext, channel, dstchannel, src as a, dst as b,
            "start", answer, "end", duration, billsec""",
        "freeswitch": """uuid as record_key, accountcode as trunk, caller_id_number as a, destination_number as b,
            start_stamp as "start", answer_stamp as answer, end_stamp as "end", duration, billsec""",
        "carrier": """record_id as record_key, record_type, call_ref, partial_seq, is_last_partial, trunk_id as trunk,
            calling_number as a, called_number as b, start_time_utc as "start", answer_time_utc as answer,
            end_time_utc as "end", duration_s as duration, billable_s as billsec""",
    }
    db = data / "pandas_mediation.duckdb"
    db.unlink(missing_ok=True)
    written = suspense = dst_unresolved = 0
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as raw, connect(db) as out:
        audit = raw.execute(
            "select file_id, source, path, delivery_date from raw.load_audit where status = 'loaded'"
        ).df()

        def latest(table: str, fields: str, key: list[str]) -> pd.DataFrame:  # newest delivered row per key
            frame = raw.execute(f"select file_id, line_no, {fields} from raw.{table}").df().merge(audit, on="file_id")
            return frame.sort_values(["delivery_date", "path", "line_no"]).drop_duplicates(key, keep="last")

        switches = latest(
            "network__switches",
            "switch_id, source as switch_source, timezone, country_calling_code, national_prefix, international_prefix",
            ["switch_id"],
        ).set_index("switch_id")
        owners = latest(
            "crm__service_assignments",
            "identifier_type, identifier, switch_id, account_id, valid_from, valid_to",
            ["identifier_type", "identifier", "switch_id", "valid_from"],
        ).query("identifier_type == 'trunk'")
        owners = pd.DataFrame({
            "switch_id": owners.switch_id, "trunk": owners.identifier, "account_id": owners.account_id,
            "valid_from": pd.to_datetime(owners.valid_from, format="%Y-%m-%d").dt.tz_localize("UTC"),
            "valid_to": pd.to_datetime(owners.valid_to.replace("", None), format="%Y-%m-%d").dt.tz_localize("UTC"),
        })  # fmt: skip

        # A file's switch: the longest switch id its name starts with (ast-lon1b_... is a backend of ast-lon1).
        files = audit[audit.source.isin(CDR_SOURCES)].set_index("file_id").sort_values(["delivery_date", "path"])
        files["order"] = np.arange(len(files))  # delivery order: "first delivered" is the lowest
        names = files.path.str.rsplit("/", n=1).str[-1]
        files["switch_id"] = pd.Series(pd.NA, index=files.index, dtype="str")
        for switch in sorted(switches.index, key=len):  # a longer id overwrites a shorter one
            matches = names.str.startswith(switch) & (files.source == switches.at[switch, "switch_source"])
            files.loc[matches, "switch_id"] = switch

        out.execute("""create table calls (source varchar, switch_id varchar, call_key varchar, account_id varchar,
            a_number varchar, b_number varchar, start_at timestamp, answer_at timestamp, end_at timestamp,
            billable_seconds integer)""")  # fmt: skip
        for source in CDR_SOURCES:
            frame = raw.execute(f"select file_id, line_no, {columns[source]} from raw.{source}__cdr").df()
            frame["order"] = frame.file_id.map(files.order)
            frame["switch_id"] = frame.pop("file_id").map(files.switch_id).astype("category")
            frame = frame[frame.order.notna() & frame.switch_id.notna()]
            if source == "asterisk":
                # the 16-column cdr_csv has no uniqueid: its record identity is its content
                missing = frame.record_key.isna() | (frame.record_key == "")
                if missing.any():
                    content = frame.loc[missing, ["a", "b", "channel", "dstchannel", "start", "end", "duration"]]
                    frame.loc[missing, "record_key"] = frame.loc[missing, "billsec"].str.cat(
                        [content[field] for field in content.columns], sep="|", na_rep=""
                    )
                    del content
                # the trunk is the peer of the customer's channel: SIP/lon-tr-0009-4c51cf35 -> lon-tr-0009
                inbound = frame.pop("dcontext").isin(rules["inbound_contexts"])
                channel = frame.pop("dstchannel").where(inbound, frame.pop("channel"))
                frame["trunk"] = channel.str.extract(r"^[^/]+/(.+)-[0-9a-fA-F]+$", expand=False)
                del inbound, channel

            # Times to UTC. Switch times are local: localised in the switch's zone, a time in the hour the
            # clocks go back (ambiguous) or forward (nonexistent) becomes NaT; the baseline does not resolve
            # DST ambiguity (tollhouse does, from the file's UTC hour), it counts the records it lost times of.
            unresolved = pd.Series(False, index=frame.index)
            zones = frame.switch_id.map(switches.timezone).astype("str")
            for field in ("start", "answer", "end"):
                if source == "carrier":
                    frame[field] = pd.to_datetime(frame[field], format="%Y-%m-%dT%H:%M:%SZ", errors="coerce", utc=True)
                    continue
                local = pd.to_datetime(frame[field], format="%Y-%m-%d %H:%M:%S", errors="coerce")
                utc = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
                for zone in zones.dropna().unique():
                    here = zones == zone
                    utc[here] = (
                        local[here].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
                    )
                unresolved |= local.notna() & utc.isna()
                frame[field] = utc
                del local, utc
            dst_unresolved += int(unresolved.sum())
            del unresolved, zones
            for field in ("duration", "billsec"):
                frame[field] = pd.to_numeric(frame[field], errors="coerce").astype("Int32")

            # Numbers to E.164 digits with the switch's dial plan.
            for field in ("a", "b"):
                dialled = frame[field].fillna("")
                number = pd.Series(pd.NA, index=frame.index, dtype="str")
                for switch in frame.switch_id.cat.categories:
                    plan, here = switches.loc[switch], frame.switch_id == switch
                    text, code = dialled[here], plan.country_calling_code
                    national, international = plan.national_prefix or "", plan.international_prefix or ""
                    e164 = code + text
                    if national:
                        e164 = e164.mask(text.str.startswith(national), code + text.str.slice(len(national)))
                    if international:
                        e164 = e164.mask(text.str.startswith(international), text.str.slice(len(international)))
                    number[here] = e164.mask(text.str.startswith("+"), text.str.slice(1)).mask(text == "")
                frame[field] = number
                del dialled, number

            # Exact duplicates: the same record identity again (a second CDR backend, a re-sent file).
            frame = frame.sort_values(["order", "line_no"]).drop_duplicates("record_key")

            if source == "carrier":  # partial records of one call_ref make one call, when parts 1..n are all there
                partial = frame.record_type == "partial"
                parts = (
                    frame[partial]
                    .assign(
                        partial_seq=pd.to_numeric(frame.partial_seq, errors="coerce"),
                        is_last_partial=frame.is_last_partial == "1",
                    )
                    .sort_values("partial_seq")
                )
                assembled = parts.groupby(["switch_id", "call_ref"], observed=True, sort=False).agg(
                    trunk=("trunk", "first"), a=("a", "first"), b=("b", "first"), start=("start", "min"),
                    answer=("answer", "first"), end=("end", "max"), billsec=("billsec", "sum"),
                    parts=("record_key", "size"), first_seq=("partial_seq", "min"), last_seq=("partial_seq", "max"),
                    has_last=("is_last_partial", "any"),
                ).reset_index()  # fmt: skip
                assembled = assembled[
                    assembled.has_last & (assembled.first_seq == 1) & (assembled.last_seq == assembled.parts)
                ]
                assembled = assembled.assign(
                    record_key=assembled.call_ref,
                    duration=((assembled.end - assembled.start).dt.total_seconds()).astype("Int32"),
                    billsec=assembled.billsec.astype("Int32"),
                )[["switch_id", "record_key", "trunk", "a", "b", "start", "answer", "end", "duration", "billsec"]]
                frame = pd.concat(
                    [
                        frame[~partial].drop(columns=["record_type", "call_ref", "partial_seq", "is_last_partial"]),
                        assembled,
                    ]
                )
                frame["switch_id"] = frame.switch_id.astype("category")
                del partial, parts, assembled
            frame = frame.reset_index(drop=True)

            # Near-duplicates: the same call under two record ids; a call starting at most `tolerance` after
            # the previous one with the same switch, parties, duration and billable seconds is dropped (the
            # earliest start is kept; tollhouse keeps the first delivered).
            key = ["switch_id", "a", "b", "duration", "billsec"]
            frame = frame.sort_values([*key, "start"]).reset_index(drop=True)
            same = np.ones(len(frame), dtype=bool)
            for field in key:
                same &= (frame[field] == frame[field].shift()).fillna(False).to_numpy(dtype=bool)
            gap = frame.start.diff()
            frame = frame[~(same & (gap <= tolerance).to_numpy(dtype=bool))]
            del same, gap

            # Owner: the trunk's assignment effective at the call's start (valid_to exclusive, empty = open).
            matched = frame[["switch_id", "trunk", "start"]].reset_index().merge(owners, on=["switch_id", "trunk"])
            effective = (matched.start >= matched.valid_from) & (
                matched.valid_to.isna() | (matched.start < matched.valid_to)
            )
            matched = matched[effective].drop_duplicates("index").set_index("index")
            frame["account_id"] = matched.account_id
            del matched, effective

            calls_out = pd.DataFrame({
                "source": source, "switch_id": frame.switch_id.astype("str"), "call_key": frame.record_key,
                "account_id": frame.account_id, "a_number": frame.a, "b_number": frame.b,
                "start_at": frame.start.dt.tz_localize(None), "answer_at": frame.answer.dt.tz_localize(None),
                "end_at": frame.end.dt.tz_localize(None), "billable_seconds": frame.billsec,
            })  # fmt: skip
            out.register("calls_out", calls_out)
            out.execute("insert into calls by name select * from calls_out")
            out.unregister("calls_out")
            written += len(calls_out)
            suspense += int(calls_out.account_id.isna().sum())
            del frame, calls_out
    db.unlink()
    return {"items": written, "unit": "calls", "suspense": suspense, "dst_unresolved": dst_unresolved}


def step_pandas_rate(data: Path, calls: int) -> dict:
    """Baseline: plain vectorised pandas doing the same rating on the same requests and tariff tables:
    longest prefix by one merge per prefix length, band intervals by merge_asof, calls split at band
    changes, slots, the round-up carry piece by piece, connect fee, cap and rounding in exact integers
    (micro-units). Its costs are then compared with tollhouse's, call by call (not timed)."""
    import numpy as np
    import pandas as pd

    from orchestration.warehouse import connect

    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        q = con.execute(
            "select request_no, deck, rate_plan_id, b_number, answer_at, billable_seconds "
            "from intermediate.int_rating_requests_selected where request_error is null"
        ).df()
        plans = con.execute("from intermediate.int_tariff_plans_validated").df()
        rates = con.execute(
            "select deck, rate_plan_id, prefix, band, valid_from, valid_until, group_start_s, slot_end_s, "
            "cast(connect_fee * 100000000 as bigint) as fee_u, cast(rate * 100000000 as bigint) as rate_u, "
            "rate_unit_s, increment_s, cast(max_cost * 100000000 as bigint) as cap_u "
            "from intermediate.int_tariff_rates_bounded"
        ).df()
        calendar = con.execute("from intermediate.int_tariff_bands_laid_out order by from_at").df()
    requested = int(q.deck.eq("customer").sum())
    rates = rates.merge(plans[["deck", "rate_plan_id", "plan_no"]], on=["deck", "rate_plan_id"])
    rates["valid_from"] = pd.to_datetime(rates["valid_from"])
    rates["valid_until"] = pd.to_datetime(rates["valid_until"].astype(str).replace("9999-12-31", "2262-01-01"))
    versions = rates[["plan_no", "prefix", "valid_from", "valid_until"]].drop_duplicates()
    versions["length"] = versions.prefix.str.len()
    all_times = rates[rates.band == "*"][["plan_no", "prefix"]].drop_duplicates().assign(all_times=True)
    cal = calendar[["plan_no", "interval_no", "band", "from_at", "to_at"]]

    def rate_chunk(q: pd.DataFrame) -> pd.DataFrame:
        q = q.merge(plans[["deck", "rate_plan_id", "plan_no", "timezone", "band_mode", "price_denominator",
                           "rounding_method", "rounding_decimals"]], on=["deck", "rate_plan_id"])  # fmt: skip
        # validity is in the plan's local days
        q["local_day"] = pd.NaT
        for zone, rows in q.groupby("timezone").groups.items():
            local = q.loc[rows, "answer_at"].dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
            q.loc[rows, "local_day"] = local.dt.normalize()
        q["local_day"] = pd.to_datetime(q["local_day"])
        # 1. longest prefix: one merge per length, longest first; a call keeps its first match
        q["matched_prefix"] = None
        for length in sorted(versions.length.unique(), reverse=True):
            todo = q[q.matched_prefix.isna()]
            hits = (
                todo[["request_no", "plan_no", "local_day"]]
                .assign(prefix=todo.b_number.str[:length])
                .merge(versions[versions.length == length], on=["plan_no", "prefix"])
            )
            hits = hits[(hits.local_day >= hits.valid_from) & (hits.local_day < hits.valid_until)]
            q.loc[q.request_no.isin(hits.request_no), "matched_prefix"] = q.request_no.map(
                hits.drop_duplicates("request_no").set_index("request_no").prefix
            )
        q = q[q.matched_prefix.notna()]
        # 2. band intervals at answer and at the last second; split calls get one row per interval
        q = q.merge(all_times, left_on=["plan_no", "matched_prefix"], right_on=["plan_no", "prefix"], how="left")
        q["all_times"] = q.all_times.fillna(False).astype(bool)
        q = pd.merge_asof(q.sort_values("answer_at"), cal.rename(columns={"interval_no": "first"})[
            ["plan_no", "first", "from_at"]], left_on="answer_at", right_on="from_at", by="plan_no")  # fmt: skip
        q["end_at"] = q.answer_at + pd.to_timedelta(np.maximum(q.billable_seconds - 1, 0), unit="s")
        q = pd.merge_asof(q.sort_values("end_at"), cal.rename(columns={"interval_no": "last"})[
            ["plan_no", "last", "from_at"]], left_on="end_at", right_on="from_at", by="plan_no",
            suffixes=("", "_end"))  # fmt: skip
        split = (q.band_mode == "split") & ~q.all_times & (q.billable_seconds > 0)
        q["last"] = np.where(split, q["last"], q["first"])
        pieces = q.loc[q.index.repeat(q["last"] - q["first"] + 1)].copy()
        pieces["interval_no"] = pieces["first"] + pieces.groupby(level=0).cumcount()
        pieces = pieces.merge(cal, on=["plan_no", "interval_no"], suffixes=("", "_cal"))

        def seconds(times: pd.Series) -> np.ndarray:  # epoch seconds, whatever unit pandas holds them in
            return times.to_numpy().astype("datetime64[s]").astype("int64")

        answer_s = seconds(pieces.answer_at)
        pieces["from_s"] = np.where(pieces["last"] > pieces["first"],
                                    np.maximum(seconds(pieces.from_at_cal) - answer_s, 0), 0)  # fmt: skip
        pieces["to_s"] = np.where(pieces["last"] > pieces["first"],
                                  np.minimum(seconds(pieces.to_at) - answer_s, pieces.billable_seconds),
                                  pieces.billable_seconds)  # fmt: skip
        pieces["band"] = np.where(pieces.all_times, "*", pieces.band)
        # 3. slots valid at the start cut the band pieces
        pieces = pieces.merge(rates, left_on=["plan_no", "matched_prefix", "band"],
                              right_on=["plan_no", "prefix", "band"], suffixes=("", "_r"))  # fmt: skip
        pieces = pieces[(pieces.local_day >= pieces.valid_from) & (pieces.local_day < pieces.valid_until)]
        slot_end = pieces.slot_end_s.fillna(pieces.to_s).astype("int64")
        pieces = pieces.assign(
            p_from=np.maximum(pieces.from_s, pieces.group_start_s), p_to=np.minimum(pieces.to_s, slot_end)
        )
        first = pieces[(pieces.group_start_s == 0) & (pieces.from_s == 0)][["request_no", "fee_u", "cap_u"]]
        pieces = pieces[(pieces.from_s < slot_end) & (pieces.group_start_s < pieces.to_s)].sort_values(
            ["request_no", "p_from"]
        )
        pieces["k"] = pieces.groupby("request_no").cumcount()
        # 4. the carry, one piece position at a time over every call at once
        position = pd.Series(0, index=q.request_no.unique(), dtype="int64")
        pieces["billed"] = 0
        for k in range(int(pieces.k.max()) + 1 if len(pieces) else 0):
            at = pieces.k == k
            rows = pieces[at]
            pos = position.reindex(rows.request_no).to_numpy()
            billed = np.where(pos >= rows.p_to, 0, -((pos - rows.p_to) // rows.increment_s) * rows.increment_s)
            pieces.loc[at, "billed"] = billed
            position.loc[rows.request_no.to_numpy()] = pos + billed
        pieces["numerator"] = pieces.rate_u * pieces.billed * (pieces.price_denominator // pieces.rate_unit_s)
        usage = pieces.groupby("request_no").numerator.sum()
        calls_out = (
            q.set_index("request_no").join(usage).join(first.drop_duplicates("request_no").set_index("request_no"))
        )
        calls_out = calls_out[calls_out.fee_u.notna()]
        fees = calls_out.fee_u.fillna(0) * calls_out.price_denominator
        total = np.where(calls_out.billable_seconds > 0, calls_out.numerator.fillna(0) + fees, 0)
        cap = calls_out.cap_u * calls_out.price_denominator
        total = np.where(cap.notna(), np.minimum(total, cap.fillna(0)), total).astype("int64")
        unit = calls_out.price_denominator * 10 ** (8 - calls_out.rounding_decimals)
        whole, rest = total // unit, total % unit
        up = np.where(calls_out.rounding_method == "up", rest > 0,
                      np.where(calls_out.rounding_method == "half_up", 2 * rest >= unit, False))  # fmt: skip
        calls_out["cost_units"] = whole + up  # in the plan's minor units
        return calls_out

    # in chunks of requests, as a plain script must to stay in memory (one merge per prefix length)
    calls_out = pd.concat([rate_chunk(q.iloc[i : i + PANDAS_CHUNK].copy()) for i in range(0, len(q), PANDAS_CHUNK)])
    priced = len(calls_out)
    checked = time.perf_counter()
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        con.register("pandas_costs", calls_out.reset_index()[["request_no", "cost_units", "rounding_decimals"]])
        (differ,) = con.execute(
            """select count(*) from intermediate.int_calls_rated r
               join intermediate.int_rating_requests_selected q using (call_id, deck)
               full join pandas_costs p using (request_no)
               where cast(r.cost * 1000000 as bigint)
                     is distinct from p.cost_units * cast(10 ** (6 - p.rounding_decimals) as bigint)"""
        ).fetchone()
    return {"items": requested, "unit": "calls", "priced": priced, "differ": int(differ),
            "untimed_s": round(time.perf_counter() - checked, 1)}  # fmt: skip


def step_pandas_bill(data: Path, calls: int) -> dict:
    """Baseline: plain vectorised pandas doing the core of the same billing on the same inputs: each call's
    billing period in its account's zone, bundles consumed in answer-time order (a groupby cumsum of billed
    seconds against the allowance prorated by active days), volume tiers, usage summed per account, call type
    and destination, recurring, bundle and one-time charges prorated per subscription, and tax per
    jurisdiction, all money in exact integers of micro-units. It simplifies the tail of the one partly covered
    call per bundle: a share of the call's cost in proportion to its uncovered seconds, where tollhouse prices
    the last seconds at the rates of the pieces they fall in, without the connect fee, with the plan's
    rounding. No promotions, FX, late calls or invoice documents. Its usage lines are then compared with
    tollhouse's (not timed)."""
    import numpy as np
    import pandas as pd
    import yaml

    from orchestration.warehouse import connect

    def half_up(numerator, denominator):  # exact integer division, rounded half-up (away from zero)
        numerator = np.asarray(numerator, dtype="int64")
        return np.sign(numerator) * ((2 * np.abs(numerator) + denominator) // (2 * denominator))

    def overlap_days(start: pd.Series, end: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
        return (end.clip(upper=hi) - start.clip(lower=lo)).dt.days.clip(lower=0)  # days of [start, end) in [lo, hi)

    rules = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    warehouse = data / "warehouse" / "tollhouse.duckdb"
    with connect(warehouse, read_only=True) as con:
        month = billing_month(con)
        frame = con.execute(
            """select call_id, account_id, answer_at, destination, destination_country, call_type, billed_seconds,
                      cast(cost * 1000000 as bigint) as cost_u
               from marts.fct_rated_calls where billable_seconds > 0"""
        ).df()
        accounts = con.execute(
            "select account_id, currency, timezone, country_code, created_date from staging.stg_crm__accounts"
        ).df()
        subscriptions = con.execute(
            "select subscription_id, account_id, product_id, quantity, start_date, end_date "
            "from staging.stg_crm__subscriptions"
        ).df()
        products = con.execute("select product_id, charge_type from staging.stg_catalog__products").df()
        prices = con.execute(
            "select product_id, currency, cast(unit_price * 1000000 as bigint) as price_u, valid_from, valid_to "
            "from staging.stg_catalog__prices"
        ).df()
        bundles = con.execute("select product_id, included_seconds, call_type from staging.stg_catalog__bundles").df()
        assigned = con.execute(
            "select account_id, tier_plan_id, valid_from, valid_to from staging.stg_catalog__tier_assignments"
        ).df()
        tiers = con.execute(
            """select tier_plan_id, call_type, tier_mode, cast(tier_from_units * 60 as bigint) as from_s,
                      cast(tier_to_units * 60 as bigint) as to_s, cast(unit_price * 1000000 as bigint) as price_u,
                      cast(coalesce(flat_amount, 0) * 1000000 as bigint) as flat_u
               from staging.stg_catalog__volume_tiers"""
        ).df()
        taxes = con.execute(
            "select jurisdiction, charge_type, tax_name, cast(tax_rate * 1000000 as bigint) as rate_u, valid_from, "
            "valid_to from staging.stg_tax__rules"
        ).df()
    period = pd.Timestamp(month)
    next_period = period + pd.DateOffset(months=1)
    period_end = next_period - pd.Timedelta(days=1)
    days_in_period = (next_period - period).days
    accounts = accounts[accounts.created_date < next_period]  # an account has periods from its creation's month
    # the currency's minor unit in micro-units: 10,000 for cents
    minor = accounts.set_index("account_id").currency.map(
        lambda code: 10 ** (6 - rules["currency_minor_units"].get(code, 2))
    )

    # 1. Each call's billing period: the calendar month of its answer time in the account's zone.
    zone = frame.account_id.map(accounts.set_index("account_id").timezone)
    local_month = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[M]")
    for name in zone.dropna().unique():
        here = (zone == name).to_numpy()
        local = frame.answer_at[here].dt.tz_localize("UTC").dt.tz_convert(name).dt.tz_localize(None)
        local_month[here] = local.to_numpy().astype("datetime64[M]")
    frame = frame[local_month == np.datetime64(month, "M")].reset_index(drop=True)
    del zone, local_month

    # 2. Volume tiers: the call types the account's tier plan valid on the period's last day prices.
    valid = assigned[
        (assigned.valid_from <= period_end) & (assigned.valid_to.isna() | (assigned.valid_to > period_end))
    ]
    tiered = valid.merge(tiers, on="tier_plan_id")
    frame = frame.merge(
        tiered[["account_id", "call_type"]].drop_duplicates().assign(is_tiered=True), on=["account_id", "call_type"],
        how="left",
    )  # fmt: skip
    frame["is_tiered"] = frame.is_tiered.fillna(False).astype(bool)

    # 3. Bundles: the allowance per account and call type, each subscription's included seconds prorated by
    # its active days (rounded down); calls consume it in answer-time order by billed seconds.
    subs = subscriptions[subscriptions.account_id.isin(accounts.account_id)]
    owned = subs.merge(bundles, on="product_id")
    owned = owned[(owned.start_date < next_period) & (owned.end_date.fillna(next_period) > period)]
    days = overlap_days(owned.start_date, owned.end_date.fillna(next_period), period, next_period)
    owned = owned.assign(included=owned.included_seconds * owned.quantity * days // days_in_period)
    allowances = owned.groupby(["account_id", "call_type"], as_index=False).included.sum()
    frame = frame.merge(allowances, on=["account_id", "call_type"], how="left")
    bundled = frame[frame.included.notna()].sort_values(["answer_at", "call_id"])
    before = bundled.groupby(["account_id", "call_type"]).billed_seconds.cumsum() - bundled.billed_seconds
    frame["covered"] = 0
    frame.loc[bundled.index, "covered"] = np.minimum(bundled.billed_seconds, (bundled.included - before).clip(lower=0))
    frame["covered"] = frame.covered.astype("int64")
    del bundled, before

    # 4. The charge: the cost when uncovered, nothing when covered, and for the partly covered call (one per
    # bundle) a share of its cost in proportion to its uncovered seconds (the baseline's simplification).
    uncovered = frame.billed_seconds - frame.covered
    frame["charge_u"] = np.where(
        frame.covered == 0, frame.cost_u,
        np.where(uncovered == 0, 0, half_up(frame.cost_u * uncovered, frame.billed_seconds.to_numpy())),
    )  # fmt: skip
    frame["partly"] = (frame.covered > 0) & (uncovered > 0)

    # 5. Usage lines: per account, call type and destination, the sum of the charges rounded once to the
    # account currency's minor unit (no FX: the bench's plans are in their accounts' currencies).
    charged = frame[~frame.is_tiered]
    usage = charged.groupby(["account_id", "call_type", "destination", "destination_country"], dropna=False,
                            as_index=False).agg(
        calls=("call_id", "size"), charge_u=("charge_u", "sum"), partly=("partly", "any")
    )  # fmt: skip
    unit = usage.account_id.map(minor).to_numpy()
    usage["amount_u"] = half_up(usage.charge_u, unit) * unit
    usage["charge_type"] = "usage"

    # 6. Tier lines: the uncovered billed seconds of the tiered calls, graduated (each tier its own seconds,
    # plus its flat amount when reached) or volume (all seconds at the tier reached).
    use = (
        frame[frame.is_tiered].assign(seconds=uncovered[frame.is_tiered])
        .groupby(["account_id", "call_type"], as_index=False).seconds.sum()
    )  # fmt: skip
    priced = tiered.merge(use[use.seconds > 0], on=["account_id", "call_type"])
    graduated = priced.tier_mode == "graduated"
    in_tier = (priced.seconds.clip(upper=priced.to_s.fillna(priced.seconds)) - priced.from_s).clip(lower=0)
    reached = (priced.seconds >= priced.from_s) & (priced.to_s.isna() | (priced.seconds < priced.to_s))
    priced["tier_seconds"] = np.where(graduated, in_tier, np.where(reached, priced.seconds, 0)).astype("int64")
    priced = priced[priced.tier_seconds > 0]
    tier_u = half_up(priced.tier_seconds * priced.price_u, 60) + priced.flat_u
    unit = priced.account_id.map(minor).to_numpy()
    tier_lines = pd.DataFrame({"account_id": priced.account_id, "charge_type": "usage",
                               "amount_u": half_up(tier_u, unit) * unit})  # fmt: skip

    # 7. Subscription lines: recurring and bundle products prorated by active days; one-time ones once, in
    # the period they start; at the price in the account's currency valid on the first day charged.
    subs = subs.merge(products[products.charge_type.isin(["recurring", "bundle", "one_time"])], on="product_id")
    subs = subs.merge(accounts[["account_id", "currency"]], on="account_id")
    end = subs.end_date.fillna(next_period)
    one_time = subs.charge_type == "one_time"
    subs = subs[
        (one_time & (subs.start_date >= period) & (subs.start_date < next_period))
        | (~one_time & (subs.start_date < next_period) & (end > period) & (end > subs.start_date))
    ]
    subs = subs.assign(
        active_days=overlap_days(subs.start_date, subs.end_date.fillna(next_period), period, next_period),
        first_day=subs.start_date.clip(lower=period),
    ).merge(prices, on=["product_id", "currency"])
    subs = subs[(subs.valid_from <= subs.first_day) & (subs.valid_to.isna() | (subs.valid_to > subs.first_day))]
    whole = subs.quantity * subs.price_u
    amount = np.where(subs.charge_type == "one_time", whole, half_up(whole * subs.active_days, days_in_period))
    unit = subs.account_id.map(minor).to_numpy()
    subscription_lines = pd.DataFrame({"account_id": subs.account_id, "charge_type": subs.charge_type,
                                       "amount_u": half_up(amount, unit) * unit})  # fmt: skip

    # 8. Tax: per tax of the account's jurisdiction valid on the period's last day, its rate times the sum of
    # the rounded lines of the charge types it taxes, rounded per tax line.
    lines = pd.concat([subscription_lines, usage[["account_id", "charge_type", "amount_u"]], tier_lines])
    taxes = taxes[(taxes.valid_from <= period_end) & (taxes.valid_to.isna() | (taxes.valid_to > period_end))]
    taxed = (
        lines.groupby(["account_id", "charge_type"], as_index=False).amount_u.sum()
        .merge(accounts[["account_id", "country_code"]], on="account_id")
        .merge(taxes, left_on=["country_code", "charge_type"], right_on=["jurisdiction", "charge_type"])
        .groupby(["account_id", "tax_name", "rate_u"], as_index=False).amount_u.sum()
    )  # fmt: skip
    unit = taxed.account_id.map(minor).to_numpy()
    taxed["tax_u"] = half_up(taxed.amount_u * taxed.rate_u, 1_000_000 * unit) * unit
    invoices = lines.account_id.nunique()
    line_count = len(lines) + len(taxed)
    billed, covered, partly = len(frame), int((frame.covered > 0).sum()), int(frame.partly.sum())

    # Not timed: the usage lines beside tollhouse's, per account, destination (as the line names it) and call
    # type, and each call's covered seconds beside tollhouse's.
    checked = time.perf_counter()
    usage["label"] = usage.destination.fillna(usage.destination_country).fillna("Other")
    usage["kind"] = usage.call_type.str.replace("_", " ")
    with connect(warehouse, read_only=True) as con:
        con.register("pandas_usage", usage[["account_id", "label", "kind", "amount_u", "partly"]])
        differ, unexplained = con.execute(
            r"""with tollhouse as (
                    select account_id,
                           regexp_extract(description, '^(.*) \(([a-z ]+)\), [0-9]+ calls', 1) as label,
                           regexp_extract(description, '^(.*) \(([a-z ]+)\), [0-9]+ calls', 2) as kind,
                           sum(cast(amount * 1000000 as bigint)) as amount_u
                    from intermediate.int_invoice_lines_drafted
                    where line_type = 'usage' and billing_period = $1
                    group by all
                ),
                baseline as (
                    select account_id, label, kind, sum(amount_u) as amount_u, bool_or(partly) as partly
                    from pandas_usage group by all
                )
                select count(*), count(*) filter (where not coalesce(baseline.partly, false))
                from tollhouse full join baseline using (account_id, label, kind)
                where tollhouse.amount_u is distinct from baseline.amount_u""",
            [month],
        ).fetchone()
        con.register("pandas_calls", frame[["call_id", "covered"]])
        (covered_differ,) = con.execute(
            """select count(*) from (select * from intermediate.int_calls_billed where billing_period = $1) t
               full join pandas_calls p using (call_id)
               where t.covered_seconds is distinct from p.covered""",
            [month],
        ).fetchone()
    return {"items": billed, "unit": "calls", "month": month.isoformat(), "invoices": invoices, "lines": line_count,
            "usage_lines": len(usage), "covered": covered, "partly_covered": partly, "differ": int(differ),
            "differ_unexplained": int(unexplained), "covered_differ": int(covered_differ),
            "untimed_s": round(time.perf_counter() - checked, 1)}  # fmt: skip


def step_pandas_assure(data: Path, calls: int) -> dict:
    """Baseline: the CDR-to-bill match, the control that reads every call, in plain pandas on the same inputs
    read from the warehouse: each rated call's period by its account's UTC bounds (merge_asof), the billing
    system's usage lines summed per CDR identity, an outer merge on it, and the same outcomes in the same
    order. Its outcome counts are compared with tollhouse's (not timed)."""
    import numpy as np
    import pandas as pd

    from orchestration.warehouse import connect

    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        rated = con.execute(
            "select call_id, source, record_key, account_id, answer_at, rate_plan_id, cost "
            "from intermediate.int_calls_rated_for_billing where billable_seconds > 0"
        ).df()
        periods = con.execute(
            "select account_id, billing_period, period_start_at, period_end_at "
            "from intermediate.int_billing_periods_bounded "
            "where billing_period in (select billing_period from intermediate.int_ra_periods_selected)"
        ).df()
        lines = con.execute(
            "select source, record_key, billing_period, rate_plan_id, amount "
            "from staging.stg_billing_export__invoice_lines where line_type = 'usage' "
            "and billing_period in (select billing_period from intermediate.int_ra_periods_selected)"
        ).df()
    expected = pd.merge_asof(
        rated.sort_values("answer_at"), periods.sort_values("period_start_at"),
        left_on="answer_at", right_on="period_start_at", by="account_id",
    )  # fmt: skip
    expected = expected[expected.answer_at < expected.period_end_at]
    billed = lines.groupby(["source", "record_key"], sort=False).agg(
        billed_lines=("amount", "size"), billed_amount=("amount", "sum"), billed_plan=("rate_plan_id", "min")
    )
    both = expected.merge(billed.reset_index(), on=["source", "record_key"], how="outer")
    lines_n = both.billed_lines.fillna(0)
    outcome = np.select(
        [lines_n == 0, both.cost.isna(), lines_n > 1, both.billed_plan != both.rate_plan_id,
         (both.billed_amount == 0) & (both.cost > 0), both.billed_amount != both.cost],
        ["unbilled_usage", "billed_without_usage", "duplicate_billing", "wrong_plan", "zero_rated_usage",
         "rating_discrepancy"],
        "matched",
    )  # fmt: skip
    counts = pd.Series(outcome).value_counts().to_dict()
    checked = time.perf_counter()
    with connect(data / "warehouse" / "tollhouse.duckdb", read_only=True) as con:
        ours = dict(
            con.execute("select outcome, count(*) from intermediate.int_ra_usage_reconciled group by 1").fetchall()
        )
    return {"items": len(both), "unit": "calls", "outcomes": {k: int(v) for k, v in counts.items()},
            "same_outcomes": {k: int(v) for k, v in counts.items()} == ours,
            "untimed_s": round(time.perf_counter() - checked, 1)}  # fmt: skip


def step_pandas_fraud(data: Path, calls: int) -> dict:
    """Baseline: three of the trailing-hour window features (calls, exposure, high-risk calls) in plain pandas,
    per-account time-based rolling sums over the CDR time, on the same calls read from the warehouse; compared
    with fct_fraud_features (not timed). tollhouse's features step computes many more (distinct numbers,
    concurrency, 24-hour and 6-hour windows, baselines, the hourly table, the rules)."""

    from orchestration.warehouse import connect

    warehouse = data / "warehouse" / "tollhouse.duckdb"
    with connect(warehouse, read_only=True) as con:
        calls_df = con.execute(
            "select call_id, account_id, end_at, exposure_eur::double as exposure, is_high_risk::int as high_risk "
            "from intermediate.int_outbound_calls_costed"
        ).df()
    calls_df["one"] = 1
    calls_df = calls_df.sort_values(["account_id", "end_at"], kind="stable")
    rolled = (
        calls_df.groupby("account_id", sort=False)
        .rolling("1h", on="end_at", closed="both")[["one", "exposure", "high_risk"]]
        .sum()
        .reset_index(drop=True)
    )
    calls_df[["calls_1h", "exposure_1h", "high_risk_1h"]] = rolled.to_numpy()
    # a window ends at its call and includes the account's calls that ended in the same second (SQL's RANGE
    # peers); pandas' rolling stops at the row, so take the last row of each such tie
    ties = calls_df.groupby(["account_id", "end_at"], sort=False)[["calls_1h", "exposure_1h", "high_risk_1h"]]
    calls_df[["calls_1h", "exposure_1h", "high_risk_1h"]] = ties.transform("max")
    checked = time.perf_counter()
    with connect(warehouse, read_only=True) as con:
        con.register("pandas_windows", calls_df[["call_id", "calls_1h", "high_risk_1h"]])
        (differ,) = con.execute(
            """select count(*) from marts.fct_fraud_features f join pandas_windows p using (call_id)
               where f.calls_1h <> p.calls_1h or f.high_risk_calls_1h <> p.high_risk_1h"""
        ).fetchone()
    return {"items": len(calls_df), "unit": "calls", "differ": int(differ),
            "untimed_s": round(time.perf_counter() - checked, 1)}  # fmt: skip


def step_pandas_dashboards(data: Path, calls: int) -> dict:
    """Baseline: two of the pages' questions in plain pandas on the same snapshot's Parquet files: one
    invoice's itemised calls (read the calls table, filter, sort) and usage revenue by month and product
    (read the usage table, group)."""
    import pandas as pd

    from dashboards.data import current_snapshot
    from orchestration.settings import Paths

    snapshot = current_snapshot(Paths(data))
    started = time.perf_counter()
    invoice_calls = pd.read_parquet(snapshot.table("fct_invoice_calls"))
    first = invoice_calls["invoice_number"].min()
    shown = invoice_calls[invoice_calls["invoice_number"] == first].sort_values(["answer_at", "call_id"]).head(1000)
    invoice_s = time.perf_counter() - started
    started = time.perf_counter()
    usage = pd.read_parquet(snapshot.table("rpt_usage_daily"))
    usage["month"] = pd.to_datetime(usage["call_date"]).dt.strftime("%Y-%m")
    by_product = usage.groupby(["month", "call_type"])[["calls", "revenue"]].sum()
    return {"items": len(invoice_calls), "unit": "rows", "invoice_calls_s": round(invoice_s, 2),
            "usage_by_product_s": round(time.perf_counter() - started, 2), "shown": len(shown),
            "groups": len(by_product)}  # fmt: skip
