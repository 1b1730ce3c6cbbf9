"""CDR formats tollhouse does not load, recognised by their content, so that a refused file says what it is.

A file no layout of its source reads is quarantined. When its first lines carry the signature of a known
format, the reason names it (`unsupported_layout: OpenSIPS acc flatstore`) instead of only saying what did
not fit. A headerless file whose column count fits a switch layout by chance (an OpenSIPS acc CSV export has
the 18 columns of an Asterisk cdr_csv file) is checked too, so it is not loaded as something it is not: each
signature is specific enough that no line of a supported layout has it.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

HEAD_BYTES = 65536  # enough for the first lines of any of these formats
_SAMPLE_LINES = 50

_SIP_METHODS = frozenset(
    ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO", "REFER", "MESSAGE",
     "SUBSCRIBE", "NOTIFY", "PUBLISH")
)  # fmt: skip
# Asterisk CEL event types (cel.h): the first field of a cel_custom / cel_csv line.
_CEL_EVENTS = frozenset(
    ("CHAN_START", "CHAN_END", "HANGUP", "ANSWER", "APP_START", "APP_END", "PARK_START", "PARK_END",
     "LINKEDID_END", "BRIDGE_START", "BRIDGE_END", "BRIDGE_UPDATE", "BRIDGE_ENTER", "BRIDGE_EXIT",
     "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER", "PICKUP", "FORWARD", "LOCAL_OPTIMIZE",
     "LOCAL_OPTIMIZE_BEGIN", "USER_DEFINED", "CONF_ENTER", "CONF_EXIT", "CONF_START", "CONF_END", "3WAY_START",
     "3WAY_END", "HOOKFLASH", "STREAM_BEGIN", "STREAM_END", "DTMF")
)  # fmt: skip
_SIP_CODE = re.compile(r"[1-6]\d\d")
_EVENT_TIME = re.compile(r"\d{9,10}(\.\d+)?|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")
_FLATSTORE = re.compile(rf"^({'|'.join(sorted(_SIP_METHODS))})\|[^|]*\|[^|]*\|[^|]+\|[1-6]\d\d\|")
_ASTERISK_CDR_NAMES = frozenset(
    {"src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "billsec", "disposition"}
)


def _rows(lines: list[str]) -> list[list[str]]:
    rows = []
    for line in lines:
        try:
            rows += list(csv.reader([line]))
        except csv.Error:
            continue
    return rows


def _most(lines: list[str], test: Callable[[str], bool]) -> bool:
    """At least 80% of the sampled lines pass (a damaged line or two does not hide the format)."""
    return bool(lines) and sum(map(test, lines)) >= 0.8 * len(lines)


def _opensips_acc_csv(lines: list[str]) -> bool:
    """acc table rows exported as CSV: method, from_tag, to_tag, callid, sip_code, sip_reason, ..., after an
    optional id column."""

    def row_ok(row: list[str]) -> bool:
        return any(
            len(row) > i + 5 and row[i] in _SIP_METHODS and _SIP_CODE.fullmatch(row[i + 4]) is not None for i in (0, 1)
        )

    return _most(lines, lambda line: any(row_ok(r) for r in _rows([line])))


def _asterisk_cel(lines: list[str]) -> bool:
    def row_ok(row: list[str]) -> bool:
        return len(row) > 2 and row[0] in _CEL_EVENTS and _EVENT_TIME.fullmatch(row[1]) is not None

    return _most(lines, lambda line: any(row_ok(r) for r in _rows([line])))


def _header(lines: list[str]) -> set[str]:
    rows = _rows(lines[:1])
    return {name.strip().lower() for name in rows[0]} if rows else set()


def _asterisk_cdr_with_header(lines: list[str]) -> bool:
    return len(_header(lines) & _ASTERISK_CDR_NAMES) >= 6


def _mobile_subscriber_cdr(lines: list[str]) -> bool:
    """bandicoot's records (interaction, direction, correspondent_id, datetime, call_duration, ...) and the
    same idea under other names (user, other, direction, duration, timestamp)."""
    header = _header(lines)
    return "direction" in header and bool(header & {"correspondent_id", "other"})


def _partial_record_csv(lines: list[str]) -> bool:
    """Headerless carrier CSV whose last field says whether the record is one part of a longer call."""
    return _most(lines, lambda line: any(r and r[-1].strip().lower() in {"partial", "complete"} for r in _rows([line])))


def _fixed_width(lines: list[str]) -> bool:
    """Records in columns of fixed width: printable text without any field delimiter, and most lines of one
    length (header and trailer records may have their own)."""
    if not all(line.isprintable() for line in lines) or any(ch in line for line in lines for ch in ",;|<>{}"):
        return False
    lengths = Counter(len(line) for line in lines)
    length, count = lengths.most_common(1)[0] if lengths else (0, 0)
    return length >= 40 and count >= 0.5 * len(lines)


@dataclass(frozen=True)
class Signature:
    name: str  # the format, as the quarantine reason names it
    matches: Callable[[list[str]], bool]  # over the file's first non-blank lines
    # also checked on a headerless file whose column count fits a switch layout: only signatures no real line
    # of those layouts can have (a SIP method where Asterisk writes src, say)
    beats_a_fit: bool = False


# First match wins: the more specific signatures come first.
SIGNATURES: tuple[Signature, ...] = (
    Signature("BroadWorks XML", lambda lines: any("<broadWorksCDR" in line for line in lines[:5])),
    Signature("OpenSIPS acc flatstore", lambda lines: _most(lines, lambda line: _FLATSTORE.match(line) is not None)),
    Signature("OpenSIPS acc CSV export", _opensips_acc_csv, beats_a_fit=True),
    Signature("asterisk CEL (Channel Event Logging)", _asterisk_cel, beats_a_fit=True),
    Signature("asterisk CDR table with a header row (cdr_csv files have none)", _asterisk_cdr_with_header),
    Signature("mobile subscriber CDR (bandicoot style: one row per party, no call id)", _mobile_subscriber_cdr),
    Signature("headerless carrier CSV with partial/complete records", _partial_record_csv),
    Signature("fixed-width", _fixed_width),
)


def sample_lines(head: bytes) -> list[str]:
    """The first non-blank lines of a file's first bytes, decoded leniently (a cut last line is dropped)."""
    lines = head.split(b"\n")
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines.pop()
    text = [line.rstrip(b"\r").decode("utf-8", "replace").lstrip("\ufeff") for line in lines]
    return [line for line in text if line.strip()][:_SAMPLE_LINES]


def unsupported_layout(head: bytes, fits: bool = False) -> str | None:
    """The name of the unsupported format whose signature these first bytes of a file carry, if any. `fits`:
    the file already reads as a headerless layout, and only signatures that beat a fit are tried."""
    lines = sample_lines(head)
    if not lines:
        return None
    return next((s.name for s in SIGNATURES if (s.beats_a_fit or not fits) and s.matches(lines)), None)
