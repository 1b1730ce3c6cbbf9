"""Longest-prefix match (LPM) of call destinations against a rate deck: which DuckDB SQL is fastest, measured.

Builds, deterministically from numpy seed 1, a deck `rates(rate_plan_id, prefix, valid_from, valid_to)` (plans P1 with
55,000 nested prefixes of 1 to 9 digits, P2 and P3 with a few thousand; 1% of prefixes re-versioned on 15 October, 1%
opened or withdrawn mid-month) and N calls (E.164, 8 to 15 digits, October 2026; 95% under a prefix of their plan,
some on a plan P4 with no deck) in a DuckDB file. Then times each LPM method as a `CREATE TABLE ... AS` of
(call_id, matched_prefix, matched_from) for every call, with `SET threads=2`:

    lengths_chain     one equality LEFT JOIN per prefix length in the deck, coalesced longest first
    lengths_union     the same equality joins, UNION ALL, then arg_max by prefix length per call
    asof_key          nested prefixes flattened per validity epoch into disjoint ranges of a numeric key, ASOF JOIN
    asof_key_by_plan  asof_key partitioned on (rate_plan_id, epoch_from) instead of an integer slot
    asof_string       the same ranges, ASOF JOIN on the number string itself
    candidates        every prefix of the number generated with unnest(range(...)) and equality-joined: the reference

The match is the longest prefix of the call's plan that starts b_number and whose validity holds at start_at
(valid_from <= start_at < valid_to, NULL valid_to open); matched_from is that row's valid_from, the version the rate
comes from. Each method runs in its own process, twice; the second run's wall and CPU seconds are reported, with the
process's peak resident memory (getrusage). Every result is compared row by row with the reference on all calls
(and by hash sum), and with a pure-Python brute force on 10,000 sampled calls. The flattening the asof_* methods need
is timed on its own (it is done once per deck load); copy_floor is the cost of reading the calls and writing a result
of the same shape, the floor under every method. Results: docs/rating-lpm.md.

    python -m tools.bench.prefix_match --calls 10000000           # about 3 minutes on 2 cores
    python -m tools.bench.prefix_match --reuse --methods asof_key  # again on the data already in --db
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

P1_PREFIXES = 55_000
OTHER_PLANS = {"P2": 3_000, "P3": 2_000}  # prefixes under the country codes, sampled from P1's
SPOT_CALLS = 10_000
NEVER = "DATE '9999-12-31'"
VALID = "c.start_at >= {r}.valid_from AND c.start_at < coalesce({r}.valid_to, " + NEVER + ")"
# Fixed-width key with the order of the strings: the number right-padded with zeros to 15 digits, times 16, plus its
# length (so '4477' sorts before '44770' and an 8-digit number never falls inside a 9-digit prefix's range).
KEY = "rpad({s}, 15, '0')::BIGINT * 16 + length({s})"
# First string after every string that starts with p ('449' -> '45'); NULL for '9', '99', ...
AFTER = (
    "CASE WHEN rtrim({p}, '9') <> '' THEN left(rtrim({p}, '9'), -1) || chr(ascii(right(rtrim({p}, '9'), 1)) + 1) END"
)


def make_deck(rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """Rate deck rows, and 3-digit number starts that no country code covers (for calls that match nothing)."""
    codes = ["1", "7"]
    for two in (d + x for d in "2345689" for x in "0123456789"):
        codes += [two] if rng.random() < 0.6 else [two + y for y in "0123456789" if rng.random() < 0.5]
    p1, order = set(codes), list(codes)
    while len(order) < P1_PREFIXES:  # ranges grow under random existing prefixes: '44' -> '447' -> '4477' -> ...
        parent = order[rng.integers(len(order))]
        child = parent + str(rng.integers(10))
        if len(child) <= 9 and child not in p1:
            p1.add(child)
            order.append(child)
    longer = sorted(p1 - set(codes))
    plans = {"P1": sorted(p1)}
    plans |= {plan: sorted(codes + list(rng.choice(longer, n, replace=False))) for plan, n in OTHER_PLANS.items()}
    rows = []
    for plan, prefixes in plans.items():
        for prefix, u in zip(prefixes, rng.random(len(prefixes)), strict=True):
            if u < 0.01:  # a new version from 15 October; the old one ends there (valid_to is exclusive)
                rows += [(plan, prefix, "2026-01-01", "2026-10-15"), (plan, prefix, "2026-10-15", None)]
            elif u < 0.015 and len(prefix) > 3:  # a range opened on 20 October
                rows.append((plan, prefix, "2026-10-20", None))
            elif u < 0.02 and len(prefix) > 3:  # a range withdrawn on 10 October
                rows.append((plan, prefix, "2026-01-01", "2026-10-10"))
            else:
                rows.append((plan, prefix, "2026-01-01", None))
    spare = [s for s in map(str, range(200, 1000)) if not any(s.startswith(c) for c in codes)]
    return pd.DataFrame(rows, columns=["rate_plan_id", "prefix", "valid_from", "valid_to"]), spare


def setup(con: duckdb.DuckDBPyConnection, calls: int) -> dict:
    """Deck, calls, the reference result and a brute-force spot check, all deterministic from seed 1."""
    rng = np.random.default_rng(1)
    deck, spare = make_deck(rng)
    con.register("deck", deck)
    con.execute(
        "CREATE TABLE rates AS SELECT rate_plan_id, prefix, valid_from::DATE AS valid_from, "
        "valid_to::DATE AS valid_to FROM deck ORDER BY ALL"
    )
    overlaps = con.sql(
        "SELECT count(*) FROM rates a JOIN rates b USING (rate_plan_id, prefix) WHERE a.valid_from < b.valid_from "
        f"AND coalesce(a.valid_to, {NEVER}) > b.valid_from"
    ).fetchone()[0]
    assert overlaps == 0, "a prefix has overlapping versions"
    # Calls: a plan, a start (a prefix of that plan, or for 5% a start outside every country code), random digits.
    per_plan = [deck.loc[deck.rate_plan_id == p, "prefix"].drop_duplicates().to_numpy() for p in ("P1", "P2", "P3")]
    starts = np.concatenate([*per_plan, np.array(spare)])
    offsets = np.cumsum([0] + [len(p) for p in per_plan])
    plan = rng.choice(3, calls, p=[0.7, 0.2, 0.1])
    matching = rng.random(calls) < 0.95
    pick = rng.random(calls)
    sizes = np.diff(offsets)[plan]
    sidx = np.where(matching, offsets[plan] + (pick * sizes).astype(np.int64), offsets[3] + (pick * len(spare)))
    sidx = sidx.astype(np.int64)
    plan = np.where(~matching & (rng.random(calls) < 0.02), 3, plan)  # a few on plan P4, which has no deck
    start_len = np.char.str_len(starts.astype(str))[sidx]
    total_len = rng.integers(np.maximum(8, start_len + 1), 16)
    suffix_len = total_len - start_len
    gen = pd.DataFrame(  # digits are put together in SQL: faster than numpy strings
        {
            "call_id": np.arange(1, calls + 1, dtype=np.int64),
            "plan": plan.astype(np.int8) + 1,
            "sidx": sidx,
            "suffix_len": suffix_len.astype(np.int8),
            "suffix": rng.integers(0, np.power(10, suffix_len, dtype=np.int64)),
            "secs": rng.integers(0, 31 * 86400, calls),
        }
    )
    con.register("gen", gen)
    con.register("start_df", pd.DataFrame({"sidx": np.arange(len(starts)), "s": starts.astype(str)}))
    con.execute(
        "CREATE TABLE calls AS SELECT g.call_id, 'P' || g.plan AS rate_plan_id, "
        "s.s || lpad(g.suffix::VARCHAR, g.suffix_len, '0') AS b_number, "
        "TIMESTAMP '2026-10-01' + to_seconds(g.secs) AS start_at FROM gen AS g JOIN start_df AS s USING (sidx) "
        "ORDER BY g.call_id"
    )
    con.unregister("gen")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE lpm_reference AS {METHODS['candidates'](con)}")
    reference_s = time.perf_counter() - started
    # Brute force in Python on a sample: try every prefix of the number, longest first, against the deck rows.
    deck_rows: dict[tuple[str, str], list[tuple[date, date | None]]] = {}
    for plan_id, prefix, valid_from, valid_to in con.sql("SELECT * FROM rates").fetchall():
        deck_rows.setdefault((plan_id, prefix), []).append((valid_from, valid_to))
    sample = [int(i) for i in rng.choice(calls, min(SPOT_CALLS, calls), replace=False) + 1]
    spot = []
    for call_id, plan_id, number, start_at in con.execute(
        "SELECT * FROM calls WHERE call_id IN (SELECT unnest($1))", [sample]
    ).fetchall():
        match = (call_id, None, None)
        for n in range(len(number), 0, -1):
            for valid_from, valid_to in deck_rows.get((plan_id, number[:n]), []):
                if datetime.combine(valid_from, datetime.min.time()) <= start_at and (
                    valid_to is None or start_at < datetime.combine(valid_to, datetime.min.time())
                ):
                    match = (call_id, number[:n], valid_from)
            if match[1] is not None:
                break
        spot.append(match)
    con.register("spot_df", pd.DataFrame(spot, columns=["call_id", "matched_prefix", "matched_from"]))
    con.execute(
        "CREATE TABLE lpm_spot AS SELECT call_id, matched_prefix, matched_from::DATE AS matched_from FROM spot_df"
    )
    stats = con.sql(
        "SELECT (SELECT count(*) FROM rates), (SELECT count(DISTINCT (rate_plan_id, prefix)) FROM rates WHERE "
        "rate_plan_id = 'P1'), (SELECT count(*) FROM calls), (SELECT avg((matched_prefix IS NOT NULL)::INT) FROM "
        "lpm_reference), (SELECT histogram(length(prefix)) FROM rates WHERE rate_plan_id = 'P1')"
    ).fetchone()
    return {
        "items": stats[2], "deck_rows": stats[0], "p1_prefixes": stats[1], "matched_share": round(stats[3], 4),
        "p1_lengths": {str(k): v for k, v in stats[4].items()}, "reference_s": round(reference_s, 2),
    }  # fmt: skip


def flatten(con: duckdb.DuckDBPyConnection) -> None:
    """Once per deck load: per plan, the epochs in which the set of valid prefixes is constant, and per epoch the
    nested prefixes cut into disjoint ranges [range_start, range_end) of the key, each owned by its longest prefix."""
    con.execute(f"""
        CREATE OR REPLACE TABLE rate_epochs AS  -- slot: a small integer for (plan, epoch), to partition the ASOF on
        SELECT row_number() OVER (ORDER BY rate_plan_id, d)::INTEGER AS slot, rate_plan_id, d AS epoch_from,
               lead(d) OVER (PARTITION BY rate_plan_id ORDER BY d) AS epoch_to
        FROM (SELECT rate_plan_id, valid_from AS d FROM rates
              UNION SELECT rate_plan_id, valid_to FROM rates WHERE valid_to IS NOT NULL);
        CREATE OR REPLACE TABLE rate_ranges AS
        WITH active AS (  -- the versions in force throughout each epoch
            SELECT e.slot, e.rate_plan_id, e.epoch_from, r.prefix, r.valid_from
            FROM rate_epochs AS e JOIN rates AS r ON r.rate_plan_id = e.rate_plan_id
             AND r.valid_from <= e.epoch_from AND coalesce(r.valid_to, {NEVER}) >= coalesce(e.epoch_to, {NEVER})
        ), points AS (  -- where the owner can change: a prefix, and the first string past all strings under it
            SELECT DISTINCT slot, rate_plan_id, epoch_from, point
            FROM active, unnest([prefix, {AFTER.format(p="prefix")}]) AS t(point) WHERE point IS NOT NULL
        ), heads AS (
            SELECT p.*, left(p.point, n) AS head FROM points AS p, unnest(range(1, length(p.point) + 1)) AS t(n)
        ), owned AS (  -- a point's owner is its own longest prefix in the epoch (NULL: a gap)
            SELECT h.slot, h.rate_plan_id, h.epoch_from, h.point,
                   arg_max(a.prefix, length(a.prefix)) AS prefix, arg_max(a.valid_from, length(a.prefix)) AS valid_from
            FROM heads AS h LEFT JOIN active AS a
             ON a.slot = h.slot AND a.prefix = h.head
            GROUP BY ALL
        ), ranges AS (
            SELECT *, lead(point) OVER (PARTITION BY slot ORDER BY point) AS next_point FROM owned
        )
        SELECT slot, rate_plan_id, epoch_from, {KEY.format(s="point")} AS range_start,
               coalesce({KEY.format(s="next_point")}, 9223372036854775807) AS range_end,
               point AS start_string, next_point AS end_string, prefix, valid_from
        FROM ranges WHERE prefix IS NOT NULL ORDER BY ALL
    """)


def lengths_chain(con: duckdb.DuckDBPyConnection) -> str:
    lengths = [n for (n,) in con.sql("SELECT DISTINCT length(prefix) AS n FROM rates ORDER BY n DESC").fetchall()]
    joins = "\n".join(
        f"LEFT JOIN (FROM rates WHERE length(prefix) = {n}) AS r{n} ON r{n}.rate_plan_id = c.rate_plan_id "
        f"AND r{n}.prefix = left(c.b_number, {n}) AND {VALID.format(r=f'r{n}')}"
        for n in lengths
    )
    prefixes = ", ".join(f"r{n}.prefix" for n in lengths)
    froms = ", ".join(f"r{n}.valid_from" for n in lengths)
    return (
        f"SELECT c.call_id, coalesce({prefixes}) AS matched_prefix, coalesce({froms}) AS matched_from\n"
        f"FROM calls AS c\n{joins}"
    )


def lengths_union(con: duckdb.DuckDBPyConnection) -> str:
    lengths = [n for (n,) in con.sql("SELECT DISTINCT length(prefix) AS n FROM rates ORDER BY n DESC").fetchall()]
    hits = "\nUNION ALL\n".join(
        f"SELECT c.call_id, r.prefix, r.valid_from FROM calls AS c JOIN (FROM rates WHERE length(prefix) = {n}) AS r "
        f"ON r.rate_plan_id = c.rate_plan_id AND r.prefix = left(c.b_number, {n}) WHERE {VALID.format(r='r')}"
        for n in lengths
    )
    return f"""
        WITH best AS (
            SELECT call_id, arg_max(prefix, length(prefix)) AS matched_prefix,
                   arg_max(valid_from, length(prefix)) AS matched_from
            FROM ({hits}) GROUP BY call_id
        )
        SELECT c.call_id, b.matched_prefix, b.matched_from FROM calls AS c LEFT JOIN best AS b USING (call_id)"""


def asof_key(con: duckdb.DuckDBPyConnection) -> str:
    return f"""
        WITH keyed AS (
            SELECT c.call_id, e.slot, {KEY.format(s="c.b_number")} AS key
            FROM calls AS c LEFT JOIN rate_epochs AS e ON e.rate_plan_id = c.rate_plan_id
             AND c.start_at >= e.epoch_from AND c.start_at < coalesce(e.epoch_to, {NEVER})
        )
        SELECT k.call_id, if(k.key < r.range_end, r.prefix, NULL) AS matched_prefix,
               if(k.key < r.range_end, r.valid_from, NULL) AS matched_from
        FROM keyed AS k ASOF LEFT JOIN rate_ranges AS r ON r.slot = k.slot AND k.key >= r.range_start"""


def asof_key_by_plan(con: duckdb.DuckDBPyConnection) -> str:
    """asof_key partitioned on (rate_plan_id VARCHAR, epoch_from DATE) instead of the integer slot."""
    return f"""
        WITH keyed AS (
            SELECT c.call_id, c.rate_plan_id, e.epoch_from, {KEY.format(s="c.b_number")} AS key
            FROM calls AS c LEFT JOIN rate_epochs AS e ON e.rate_plan_id = c.rate_plan_id
             AND c.start_at >= e.epoch_from AND c.start_at < coalesce(e.epoch_to, {NEVER})
        )
        SELECT k.call_id, if(k.key < r.range_end, r.prefix, NULL) AS matched_prefix,
               if(k.key < r.range_end, r.valid_from, NULL) AS matched_from
        FROM keyed AS k ASOF LEFT JOIN rate_ranges AS r ON r.rate_plan_id = k.rate_plan_id
         AND r.epoch_from = k.epoch_from AND k.key >= r.range_start"""


def asof_string(con: duckdb.DuckDBPyConnection) -> str:
    return f"""
        WITH dated AS (
            SELECT c.call_id, e.slot, c.b_number
            FROM calls AS c LEFT JOIN rate_epochs AS e ON e.rate_plan_id = c.rate_plan_id
             AND c.start_at >= e.epoch_from AND c.start_at < coalesce(e.epoch_to, {NEVER})
        ), hit AS (  -- end_string NULL: the range runs to the end ('A' sorts after every digit)
            SELECT d.call_id, d.b_number < coalesce(r.end_string, 'A') AS inside, r.prefix, r.valid_from
            FROM dated AS d ASOF LEFT JOIN rate_ranges AS r ON r.slot = d.slot AND d.b_number >= r.start_string
        )
        SELECT call_id, if(inside, prefix, NULL) AS matched_prefix, if(inside, valid_from, NULL) AS matched_from
        FROM hit"""


def candidates(con: duckdb.DuckDBPyConnection) -> str:
    return f"""
        WITH best AS (
            SELECT c.call_id, arg_max(r.prefix, length(r.prefix)) AS matched_prefix,
                   arg_max(r.valid_from, length(r.prefix)) AS matched_from
            FROM calls AS c, unnest(range(1, length(c.b_number) + 1)) AS t(n)
            JOIN rates AS r ON r.rate_plan_id = c.rate_plan_id AND r.prefix = left(c.b_number, n)
            WHERE {VALID.format(r="r")}
            GROUP BY c.call_id
        )
        SELECT c.call_id, b.matched_prefix, b.matched_from FROM calls AS c LEFT JOIN best AS b USING (call_id)"""


def copy_floor(con: duckdb.DuckDBPyConnection) -> str:
    """Not a match: reading the calls and writing a result of the same shape, the floor under every method."""
    return "SELECT call_id, left(b_number, 6) AS matched_prefix, DATE '2026-01-01' AS matched_from FROM calls"


METHODS = {f.__name__: f for f in (lengths_chain, lengths_union, asof_key, asof_key_by_plan, asof_string, candidates)}


def verify(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    """Row-by-row against the reference on every call, hash sums, and against the brute force on the sample."""
    row = con.sql(f"""
        SELECT count(*) FILTER (WHERE m.call_id IS NULL OR r.call_id IS NULL
                                OR m.matched_prefix IS DISTINCT FROM r.matched_prefix
                                OR m.matched_from IS DISTINCT FROM r.matched_from),
               count(m.call_id), count(DISTINCT m.call_id),
               sum(hash(m.call_id, m.matched_prefix, m.matched_from)) = sum(hash(r.call_id, r.matched_prefix,
                   r.matched_from)),
               count(m.matched_prefix)
        FROM {table} AS m FULL JOIN lpm_reference AS r USING (call_id)""").fetchone()
    spot = con.sql(f"""
        SELECT count(*) FROM lpm_spot AS s LEFT JOIN {table} AS m USING (call_id)
        WHERE m.call_id IS NULL OR m.matched_prefix IS DISTINCT FROM s.matched_prefix
           OR m.matched_from IS DISTINCT FROM s.matched_from""").fetchone()[0]
    ok = row[0] == 0 and row[1] == row[2] and row[3] and spot == 0
    return {"mismatches": row[0], "rows": row[1], "matched": row[4], "hash_equal": row[3], "spot_mismatches": spot,
            "correct": bool(ok)}  # fmt: skip


def cpu_s() -> float:
    """CPU seconds of this process, all threads: less disturbed than wall time by other work on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(step: str, db: Path, calls: int) -> dict:
    """One step in this process: setup, flatten or a method (run twice; the second run is the one reported)."""
    con = duckdb.connect(str(db))
    con.execute("SET threads = 2")
    if step == "setup":
        return setup(con, calls)
    runs = []
    for _ in range(2):
        sql = "" if step == "flatten" else (METHODS | {"copy_floor": copy_floor})[step](con)
        con.execute(f"DROP TABLE IF EXISTS lpm_{step}")
        cpu, started = cpu_s(), time.perf_counter()
        if step == "flatten":
            flatten(con)
        else:
            con.execute(f"CREATE TABLE lpm_{step} AS {sql}")
        runs.append((time.perf_counter() - started, cpu_s() - cpu))
    figures = {"items": calls, "wall_s": round(runs[1][0], 2), "cpu_s": round(runs[1][1], 2),
               "first_s": round(runs[0][0], 2),
               "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}  # fmt: skip
    if step == "flatten":
        figures.update(ranges=con.sql("SELECT count(*) FROM rate_ranges").fetchone()[0],
                       epochs=con.sql("SELECT count(*) FROM rate_epochs").fetchone()[0])  # fmt: skip
    else:
        figures |= verify(con, f"lpm_{step}") if step in METHODS else {}
        con.execute(f"DROP TABLE lpm_{step}")
    return figures


def run(step: str, db: Path, calls: int) -> dict:
    command = [sys.executable, "-m", "tools.bench.prefix_match", "--step", step, f"--calls={calls}", f"--db={db}"]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/lpm/lpm.duckdb"))
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--reuse", action="store_true", help="keep the deck and calls already in --db")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(child(args.step, args.db, args.calls), default=str))
        return
    if not (args.reuse and args.db.exists()):
        args.db.parent.mkdir(parents=True, exist_ok=True)
        for stale in (args.db, args.db.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        deck = run("setup", args.db, args.calls)
        print(f"setup {time.perf_counter() - started:.1f} s: {json.dumps(deck)}", flush=True)
    flat = run("flatten", args.db, args.calls)
    print(f"flatten (once per deck load): {flat['wall_s']} s, {flat['cpu_s']} CPU s, peak {flat['peak_mb']:,} MB, "
          f"{flat['ranges']:,} ranges in {flat['epochs']} plan epochs", flush=True)  # fmt: skip
    print("\n| method | wall s | CPU s | calls/s | peak MB | matched | correct |\n|---|---|---|---|---|---|---|")
    for name in ["copy_floor", *args.methods.split(",")]:
        f = run(name, args.db, args.calls)
        if name == "copy_floor":
            matched, check = "-", "not a match: the floor (read the calls, write result-shaped rows)"
        else:
            matched = f"{f['matched']:,}"
            check = "yes" if f["correct"] else f"NO: {f['mismatches']} vs reference, {f['spot_mismatches']} vs sample"
        per_s = f"{args.calls / f['wall_s']:,.0f}"
        print(
            f"| {name} | {f['wall_s']} | {f['cpu_s']} | {per_s} | {f['peak_mb']:,} | {matched} | {check} |", flush=True
        )


if __name__ == "__main__":
    main()
