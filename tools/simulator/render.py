"""Switch formats: one text line per record, built column-wise in an in-memory DuckDB.

Each switch gets an Arrow table of plain columns (numbers, local times, ids) and one SQL projection
that concatenates them the way that switch writes CSV:
- Asterisk cdr_csv: strings quoted, durations unquoted, empty answer a bare empty field, clid
  `"Name" <number>` with doubled quotes, uniqueid `<UTC epoch of start>.<channel counter>`;
  18 columns before the upgrade, 21 after (peeraccount, linkedid, sequence).
- FreeSWITCH mod_cdr_csv `example` template: every field quoted, local times, hangup cause names.
- Carrier: plain CSV, UTC ISO times, Q.850 codes, interim `partial` records for long calls.
DuckDB keeps the input order for a projection; the returned row ids are checked to be sure.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pyarrow as pa

from tools.simulator.numbering import COUNTRY_INDEX
from tools.simulator.records import FileTable, Records
from tools.simulator.reference import CALLER_NAMES, SWITCHES, World
from tools.simulator.tariffs import ROUTES
from tools.simulator.timeline import HOUR, Timeline, ZoneClock, epoch
from tools.simulator.traffic import INBOUND, Calls

_NAMES = [name for names in CALLER_NAMES for name in names]
_NAME_OFFSET = np.cumsum([0] + [len(n) for n in CALLER_NAMES])[:-1]
_NAME_COUNT = np.array([len(n) for n in CALLER_NAMES])

FS_CAUSES = {
    16: "NORMAL_CLEARING",
    17: "USER_BUSY",
    18: "NO_USER_RESPONSE",
    19: "NO_ANSWER",
    1: "UNALLOCATED_NUMBER",
    3: "NO_ROUTE_DESTINATION",
    21: "CALL_REJECTED",
    31: "NORMAL_UNSPECIFIED",
    34: "NORMAL_CIRCUIT_CONGESTION",
    38: "NETWORK_OUT_OF_ORDER",
    41: "NORMAL_TEMPORARY_FAILURE",
}
_TIME = "'%Y-%m-%d %H:%M:%S'"
_ISO = "'%Y-%m-%dT%H:%M:%SZ'"


def caller_name_index(calls: Calls) -> np.ndarray:
    """Index into CALLER_NAMES (flattened) for each call, -1 for none (outside callers to toll-free DIDs).

    Derived from the calling number, so one number always shows the same name.
    """
    c = calls.switch.astype(np.int64)
    index = _NAME_OFFSET[c] + (calls.a_number % 1_000_003) * 7919 % _NAME_COUNT[c]
    return np.where(calls.call_type == INBOUND, -1, index)


def caller_name(index: int) -> str:
    return _NAMES[index] if index >= 0 else ""


def _strings(values: list[str], index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow string column, '' where index is -1."""
    table = pa.array([*values, ""], pa.string())
    return table.take(pa.array(np.where(index < 0, len(values), index)))


def _times(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.maximum(seconds, 0).astype("datetime64[s]"), pa.timestamp("s"), mask=seconds < 0)


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _q(*parts: str) -> list[str]:
    """A quoted CSV field made of SQL expressions (quotes inside are the caller's business)."""
    return [_lit('"'), *parts, _lit('"')]


def _line(*fields: list[str]) -> str:
    """SQL for one CSV line: fields joined by commas, ending in a newline.

    One variadic concat: a chain of `||` copies the growing string at every step (7x slower here).
    """
    parts: list[str] = []
    for i, field in enumerate(fields):
        parts += ([_lit(",")] if i else []) + field
    return "concat(" + ", ".join([*parts, "chr(10)"]) + ")"


def _dialled(column: str, domestic: str, switch_index: int, plus: str | None = None) -> str:
    """SQL: an E.164 number as the switch writes it (national prefix at home, international prefix abroad)."""
    s = SWITCHES[switch_index]
    national = f"concat('{s.national_prefix}', substr({column}::varchar, {len(s.calling_code) + 1}))"
    international = f"concat('{s.international_prefix}', {column}::varchar)"
    expr = f"case when {domestic} then {national} else {international} end"
    return f"case when {plus} then concat('+', {column}::varchar) else {expr} end" if plus else expr


class Renderer:
    """Renders the records of one switch; `columns` prepares inputs, `SQL` turns them into lines."""

    def __init__(self, calls: Calls, world: World, timeline: Timeline, files: FileTable) -> None:
        self.calls, self.world, self.timeline, self.files = calls, world, timeline, files
        self.names = caller_name_index(calls)
        self.con = duckdb.connect()
        # large_string lines: one switch's month of CDRs can pass the 2 GB of a plain Arrow string column
        self.con.execute("set threads = 2; set preserve_insertion_order = true; set arrow_large_buffer_size = true")

    def render(
        self, switch: int, records: Records, file_of: np.ndarray, rng: np.random.Generator
    ) -> tuple[pa.ChunkedArray, pa.Array]:
        """Lines (each ending in a newline) and record keys, in the order of `records`."""
        table, sql = (self._asterisk, self._freeswitch, self._carrier)[switch](records, file_of, rng)
        table = table.append_column("rid", pa.array(np.arange(len(records), dtype=np.int64)))
        self.con.register("recs", table)
        result = self.con.execute(f"select rid, line, record_key from ({sql})").to_arrow_table()
        self.con.unregister("recs")
        if not np.array_equal(result.column("rid").to_numpy(), np.arange(len(records))):
            raise RuntimeError("DuckDB changed the record order")  # never seen; guards the byte slicing
        return result.column("line"), result.column("record_key").combine_chunks()

    # -- shared columns ---------------------------------------------------------------------------------

    def _common(self, records: Records, clock: ZoneClock | None) -> dict[str, pa.Array]:
        calls, call = self.calls, records.call
        home = COUNTRY_INDEX[SWITCHES[int(records.switch[0])].country] if len(records) else 0

        def local(seconds: np.ndarray) -> np.ndarray:
            if clock is None:
                return seconds
            known = seconds >= 0
            return np.where(known, clock.local(np.where(known, seconds, records.start_s)), -1)

        inbound = calls.call_type[call] == INBOUND
        route = _strings([r[0] for r in ROUTES], calls.route[call].astype(np.int64))
        trunk = _strings(self.world.trunks.ids, calls.trunk[call].astype(np.int64))
        return {
            "a": pa.array(calls.a_number[call]),
            "b": pa.array(calls.b_number[call]),
            "a_dom": pa.array(calls.a_country[call] == home),
            "b_dom": pa.array(calls.b_country[call] == home),
            "inbound": pa.array(inbound),
            "name": _strings(_NAMES, self.names[call]),
            "trunk": trunk,
            "route": route,
            "start_t": _times(local(records.start_s)),
            "answer_t": _times(local(records.answer_s)),
            "end_t": _times(local(records.end_s)),
            "duration": pa.array(records.duration),
            "billsec": pa.array(records.billable),
            "disp": pa.array(calls.disposition[call]),
            "cause": pa.array(calls.cause[call]),
        }

    def _zone(self, switch: int) -> ZoneClock:
        return ZoneClock.build(
            SWITCHES[switch].timezone, self.timeline.start - timedelta(days=3), self.timeline.end + timedelta(days=40)
        )

    # -- Asterisk -------------------------------------------------------------------------------------------

    def _asterisk(self, records: Records, file_of: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, str]:
        cols = self._common(records, self._zone(0))
        upgrade = epoch(self.timeline.upgrade_day)
        # Channel counter: two channels per call in order of creation, restarting with the upgrade's restart.
        by_start = np.lexsort((records.order_us, records.start_s))
        rank = np.empty(len(records), np.int64)
        rank[by_start] = np.arange(len(records))
        rank -= np.where(records.start_s >= upgrade, int(np.sum(records.start_s < upgrade)), 0)
        wide = self.files.hour[file_of] >= upgrade // HOUR
        codes = [*self.world.accounts.accountcode]
        cols |= {
            "acct": _strings(codes, self.calls.accountcode_of[records.call].astype(np.int64)),
            "hexa": pa.array(rng.integers(0, 2**32, len(records))),
            "hexb": pa.array(rng.integers(0, 2**32, len(records))),
            "uid_epoch": pa.array(records.start_s),
            "uid_seq": pa.array(2 * rank),
            "wide": pa.array(wide),
            "cdr_seq": pa.array(np.cumsum(wide) + 1000),
        }
        src, dst = _dialled("a", "a_dom", 0), _dialled("b", "b_dom", 0)
        empty, quote, sip, newcols = _lit('""'), _lit('"'), _lit('"SIP/'), _lit(',"","')
        line = _line(
            _q("acct"),
            _q("src"),
            _q("dst"),
            _q("case when inbound then 'from-pstn' else 'from-customer' end"),
            [_lit('"""'), "replace(name, '\"', '\"\"')", _lit('"" <'), "src", _lit('>"')],  # "Name" <number>
            _q(_lit("SIP/"), "chan_peer", _lit("-"), "printf('%08x', hexa)"),
            [f"case when disp = 3 then {empty} else concat({sip}, dst_peer, '-', printf('%08x', hexb), {quote}) end"],
            _q(_lit("Dial")),
            _q(_lit("SIP/"), "dst_peer", _lit("/"), "dst", "case when inbound then ',30' else ',60' end"),
            _q(f"strftime(start_t, {_TIME})"),
            [f"case when answer_t is null then '' else concat('\"', strftime(answer_t, {_TIME}), '\"') end"],
            _q(f"strftime(end_t, {_TIME})"),
            ["duration::varchar"],
            ["billsec::varchar"],
            _q("case disp when 0 then 'ANSWERED' when 1 then 'NO ANSWER' when 2 then 'BUSY' else 'FAILED' end"),
            _q(_lit("DOCUMENTATION")),
            _q("uid"),
            # userfield, then the three columns cdr_csv adds with newcdrcolumns after the upgrade
            [
                _lit('""'),
                f"case when wide then concat({newcols}, uid, {_lit(chr(34) + ',')}, cdr_seq::varchar) else '' end",
            ],
        )
        sql = f"""
        with t as (
            select *, {src} as src, {dst} as dst, concat(uid_epoch::varchar, '.', uid_seq::varchar) as uid,
                case when inbound then route else trunk end as chan_peer,
                case when inbound then trunk else route end as dst_peer
            from recs
        )
        select rid, uid as record_key, {line} as line from t
        """
        return pa.table(cols), sql

    # -- FreeSWITCH -----------------------------------------------------------------------------------------

    def _freeswitch(self, records: Records, file_of: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, str]:
        cols = self._common(records, self._zone(1))
        n = len(records)
        parts = {}
        for leg in ("u", "v"):  # v4 UUIDs for the A leg (uuid) and B leg (bleg_uuid)
            parts |= {
                f"{leg}1": pa.array(rng.integers(0, 2**32, n)),
                f"{leg}2": pa.array(rng.integers(0, 2**16, n)),
                f"{leg}3": pa.array(rng.integers(0, 2**12, n)),
                f"{leg}4": pa.array(0x8000 | rng.integers(0, 2**14, n)),
                f"{leg}5": pa.array(rng.integers(0, 2**48, n)),
            }
        codec = np.where(rng.random(n) < 0.75, 0, np.where(rng.random(n) < 0.8, 1, 2))
        cols |= parts | {"codec": pa.array(codec)}
        causes = " ".join(f"when {code} then '{name}'" for code, name in FS_CAUSES.items())
        src, dst = _dialled("a", "a_dom", 1), _dialled("b", "b_dom", 1)
        uuid = "printf('%08x-%04x-4%03x-%04x-%012x', {0}1, {0}2, {0}3, {0}4, {0}5)"
        line = _line(
            _q("name"),
            _q("src"),
            _q("dst"),
            _q("case when inbound then 'public' else 'default' end"),
            _q(f"strftime(start_t, {_TIME})"),
            _q(f"coalesce(strftime(answer_t, {_TIME}), '')"),
            _q(f"strftime(end_t, {_TIME})"),
            _q("duration::varchar"),
            _q("billsec::varchar"),
            _q(f"case cause {causes} end"),
            _q("uuid"),
            _q(f"case when disp = 3 then '' else {uuid.format('v')} end"),
            _q("case when inbound then '' else trunk end"),
            _q("codec_name"),
            _q("codec_name"),
        )
        sql = f"""
        with t as (select *, {src} as src, {dst} as dst, {uuid.format("u")} as uuid,
            case when disp = 0 then (['PCMA', 'G722', 'opus'])[codec + 1] else '' end as codec_name from recs)
        select rid, uuid as record_key, {line} as line from t
        """
        return pa.table(cols), sql

    # -- Carrier --------------------------------------------------------------------------------------------

    def _carrier(self, records: Records, file_of: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, str]:
        cols = self._common(records, None)
        n = len(records)
        # call_ref: one per call, a new one for a near-duplicate (the carrier saw two calls).
        ref_of_call = rng.integers(0, 2**32, (len(self.calls), 2)) if n else np.zeros((0, 2), np.int64)
        ref = ref_of_call[records.call]
        extra = records.kind != 0
        ref[extra] = rng.integers(0, 2**32, (int(extra.sum()), 2))
        cols |= {
            "rec_no": pa.array(np.arange(1, n + 1) + 7_000_000),
            "ref1": pa.array(ref[:, 0]),
            "ref2": pa.array(ref[:, 1]),
            "part": pa.array(records.part),
            "parts": pa.array(records.parts),
            "plus": pa.array(rng.random(n) < 0.1),  # some numbers arrive as +E164
        }
        calling, called = _dialled("a", "a_dom", 2, "plus"), _dialled("b", "b_dom", 2, "plus")
        line = _line(
            ["record_id"],
            ["case when parts > 1 then 'partial' else 'complete' end"],
            ["printf('%08x%08x', ref1, ref2)"],
            ["case when parts > 1 then part::varchar else '' end"],
            ["case when parts = 1 then '' when part = parts then '1' else '0' end"],
            ["trunk"],
            [calling],
            [called],
            [f"strftime(start_t, {_ISO})"],
            [f"coalesce(strftime(answer_t, {_ISO}), '')"],
            [f"strftime(end_t, {_ISO})"],
            ["duration::varchar"],
            ["billsec::varchar"],
            [
                "case when parts > 1 and part < parts then '' else cause::varchar end"
            ],  # interim records have no cause yet
            ["route"],
        )
        sql = f"""
        with t as (select *, printf('NYC1-%010d', rec_no) as record_id from recs)
        select rid, record_id as record_key, {line} as line from t
        """
        return pa.table(cols), sql
