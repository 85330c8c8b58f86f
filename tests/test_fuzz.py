"""Property tests: CP932 text survives fixed-width write → read exactly, and random bytes, truncations
and record lengths make the readers raise only located MidlayoutErrors while read = kept + rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midlayout.errors import MidlayoutError
from midlayout.layout.source import SourceField, SourceFile
from midlayout.readers import read_batches
from midlayout.text import ebcdic
from midlayout.text.encodings import CODECS
from tests.conftest import fixed_record


def _cp932_repertoire() -> list[str]:
    """Every printable character CP932 decodes to, except private-use (外字) ones."""
    codes = [bytes([b]) for b in range(0x21, 0x7F)] + [bytes([b]) for b in range(0xA1, 0xE0)]
    codes += [
        bytes([lead, trail])
        for lead in [*range(0x81, 0xA0), *range(0xE0, 0xFD)]
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    ]
    chars = set()
    for code in codes:
        try:
            ch = code.decode("cp932")
        except UnicodeDecodeError:
            continue
        if ch.isprintable() and not 0xE000 <= ord(ch) <= 0xF8FF:
            chars.add(ch)
    return sorted(chars)


CP932_CHARS = _cp932_repertoire()
FIELD = st.text(alphabet=st.sampled_from(CP932_CHARS), max_size=8)


def test_repertoire_holds_the_traps() -> None:
    assert {"髙", "﨑", "崎", "①", "㈱", "～", "ｶ", "ﾞ", "表", "ソ"} <= set(CP932_CHARS) and len(
        CP932_CHARS
    ) > 7000


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=25),
    st.integers(1, 9),
    st.sampled_from([b"", b"\r\n"]),
)
def test_cp932_text_round_trips_through_fixed_width(
    tmp_path: Path, rows: list[tuple[str, str]], batch: int, term: bytes
) -> None:
    fields = (SourceField("X", "text", 0, 16), SourceField("Y", "text", 16, 16))
    source = SourceFile("t", "t", "fixed", "cp932", "*", fields, record_length=32, terminator=term)
    path = tmp_path / "rt.dat"
    path.write_bytes(b"".join(fixed_record([(x, 16), (y, 16)], 32) + term for x, y in rows))
    batches = list(read_batches(source, path, batch))
    assert sum(b.rejects.height for b in batches) == 0 and sum(b.gaiji.height for b in batches) == 0
    got = [(x.rstrip(" "), y.rstrip(" ")) for b in batches for x, y in b.rows.select("X", "Y").rows()]
    assert got == [(x.rstrip(" "), y.rstrip(" ")) for x, y in rows]


ENCODINGS = ["cp932", "shift_jis", "euc-jp", "utf-8"] + (["ibm930"] if ebcdic.available("ibm930") else [])


def _layout(reclen: int, encoding: str, term: bytes) -> SourceFile:
    """Fields covering the record: text, then a numeric of each type where they fit."""
    ebc = encoding == "ibm930"
    kinds = [("Z", "zoned_ebcdic" if ebc else "zoned", 3), ("P", "packed", 3), ("B", "binary", 2)]
    fields, start = [], 0
    for fid, typ, width in kinds:
        if start + width <= reclen - 1:
            fields.append(SourceField(fid, typ, start, width))
            start += width
    fields.append(SourceField("T", "text", start, reclen - start))
    return SourceFile("f", "f", "fixed", encoding, "*", tuple(fields), record_length=reclen, terminator=term)


def _check_counts(source: SourceFile, path: Path) -> None:
    try:
        for b in read_batches(source, path, 3):
            kept, rejected = b.rows.height, b.rejects.get_column("record").n_unique()
            assert b.records_read == kept + rejected
            assert set(b.rows.get_column("_rec")).isdisjoint(b.rejects.get_column("record"))
    except MidlayoutError as exc:  # only our own errors, and they say where
        assert exc.location.file == str(path)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), st.integers(1, 40), st.sampled_from(ENCODINGS), st.sampled_from([b"", b"\r\n"]))
def test_fixed_reader_on_random_bytes(
    tmp_path: Path, data: st.DataObject, reclen: int, encoding: str, term: bytes
) -> None:
    term = b"" if encoding == "ibm930" else term
    # Mostly whole records of random bytes (so decoding is exercised), sometimes cut anywhere.
    records = data.draw(st.lists(st.binary(min_size=reclen, max_size=reclen), max_size=8))
    raw = b"".join(r + term for r in records)
    cut = data.draw(st.one_of(st.just(0), st.integers(0, len(raw))))
    path = tmp_path / "fz.dat"
    path.write_bytes(raw[: len(raw) - cut])
    _check_counts(_layout(reclen, encoding, term), path)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.binary(max_size=30), max_size=8),
    st.sampled_from(["cp932", "utf-8", "euc-jp"]),
    st.integers(0, 200),
)
def test_csv_reader_on_random_bytes(tmp_path: Path, lines: list[bytes], encoding: str, cut: int) -> None:
    fields = (SourceField("a", "text", column="コード"), SourceField("b", "text", column="氏名"))
    source = SourceFile("c", "c", "csv", encoding, "*", fields)
    data = "コード,氏名\r\n".encode(CODECS[encoding]) + b"\r\n".join(lines)
    path = tmp_path / "fz.csv"
    path.write_bytes(data[: len(data) - cut] if cut < len(data) else data)
    _check_counts(source, path)


@pytest.mark.parametrize("reclen", [7, 13])
def test_fixed_reader_known_mess_is_located(tmp_path: Path, reclen: int) -> None:
    path = tmp_path / "mess.dat"
    path.write_bytes(b"\x81\x20\xf0\x41\x88" * 11)
    _check_counts(_layout(reclen, "cp932", b""), path)
