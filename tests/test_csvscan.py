"""The compiled CSV framing (readers/csvscan.py) frames exactly as the numpy reference path of
readers/csvframe.py: same records, ends, byte-parsed records, carry point and field counts, on random bytes
built from the characters that matter to framing, and on well-formed CSV with rare faults."""

from __future__ import annotations

import random

import numpy as np
import pytest

from midlayout.readers import csvframe
from midlayout.readers.csvscan import native_framing

ALPHABET = [b'"', b",", b"\n", b"\r", b"a", b" ", b"\xe3\x81\x82"]
WEIGHTS = [6, 6, 4, 1, 10, 2, 3]


def _both(monkeypatch: pytest.MonkeyPatch, data: bytes, **kw: object) -> tuple[object, object]:
    out = []
    for mode in ("python", "native"):
        monkeypatch.setenv("MIDLAYOUT_DECODER", mode)
        framed = csvframe.frame(data, quote=0x22, delim=0x2C, **kw)  # type: ignore[arg-type]
        counts = csvframe.field_counts(data, framed, 0x22, 0x2C)
        out.append(
            (
                framed.starts.tolist(),
                framed.ends.tolist(),
                framed.nexts.tolist(),
                framed.specials,
                framed.consumed,
                counts.tolist(),
            )
        )
    return out[0], out[1]


def _well_formed(rng: random.Random, records: int, nfields: int) -> bytes:
    lines = []
    for _ in range(records):
        fields = []
        for _ in range(nfields):
            value = "".join(rng.choice(["a", "あ", " ", ",", "\n", '""']) for _ in range(rng.randint(0, 5)))
            quoted = rng.random() < 0.7 or any(c in value for c in ',\n"')
            fields.append(f'"{value}"' if quoted else value)
        lines.append(",".join(fields) + rng.choice(["\n", "\r\n"]))
    return "".join(lines).encode()


def test_native_is_the_default() -> None:
    assert native_framing()


@pytest.mark.parametrize("seed", range(60))
def test_native_framing_equals_numpy_on_random_bytes(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    data = b"".join(rng.choices(ALPHABET, WEIGHTS, k=rng.randint(0, 400)))
    monkeypatch.setattr(csvframe, "MAX_QUOTED_BYTES", 16 if seed % 2 else 65_536)
    for eof in (True, False):
        for literal in (False, True):
            ref, native = _both(monkeypatch, data, nfields=3, eof=eof, base=7, literal=literal)
            assert native == ref, (data, eof, literal)


@pytest.mark.parametrize("seed", range(30))
def test_native_framing_equals_numpy_on_csv_with_faults(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(1000 + seed)
    data = bytearray(_well_formed(rng, 60, 4))
    for _ in range(rng.randint(0, 3)):  # a stray quote, a lost one, text after a closing quote
        at = rng.randrange(len(data))
        data[at:at] = rng.choice([b'"', b'x"', b'"x', b""])
    monkeypatch.setattr(csvframe, "MAX_QUOTED_BYTES", rng.choice([8, 40, 65_536]))
    ref, native = _both(monkeypatch, bytes(data), nfields=4, eof=True, base=0)
    assert native == ref
    # a worker replays the planner's byte-parsed records: the same framing again, without the parser
    specials = ref[3]
    assert isinstance(specials, dict)
    known = {sp.start: sp for sp in specials.values()}
    ref2, native2 = _both(monkeypatch, bytes(data), nfields=4, eof=True, base=0, known=known)
    assert native2 == ref2 == ref


@pytest.mark.parametrize("tail", [b'"abc', b'"a,b\n"c', b'"a""', b""])
def test_native_framing_carries_an_open_quote_at_the_chunk_end(
    monkeypatch: pytest.MonkeyPatch, tail: bytes
) -> None:
    """A chunk (not the end of the file) longer than the look-ahead that ends inside a quoted field: the
    record is carried to the next chunk, not parsed as unclosed."""
    rng = random.Random(7)
    data = _well_formed(rng, 20, 3)
    data = data * (csvframe.LOOKAHEAD // len(data) + 2) + tail
    ref, native = _both(monkeypatch, data, nfields=3, eof=False, base=0)
    assert native == ref
    assert ref[4] < len(data) or not tail  # type: ignore[index, operator]


def test_native_field_counts_hold_a_byte_parsed_record(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'"a","b"\n"a"x,"b","c"\n"a","b"\n'
    ref, native = _both(monkeypatch, data, nfields=2, eof=True, base=0)
    assert native == ref
    assert native[5] == [2, 2, 2] and set(native[3]) == {1}  # type: ignore[index, arg-type]
    assert np.array_equal(native[0], [0, 8, 21])  # type: ignore[index]


@pytest.mark.parametrize("seed", range(5))
def test_raw_records_as_views_equal_the_copied_records(seed: int) -> None:
    """`_raw` points into the piece's bytes (Arrow binary views, inline up to 12 bytes): the same values
    as the copy it replaced, for empty, short, 12- and 13-byte and long records, with LF and CRLF."""
    import polars as pl

    from midlayout.readers.csv import _binary, _binary_copy

    rng = random.Random(seed)
    data, starts, ends = b"", [], []
    for _ in range(200):
        value = bytes(rng.choice(b'ab",\xe3') for _ in range(rng.choice([0, 1, 4, 11, 12, 13, 40])))
        starts.append(len(data))
        data += value
        ends.append(len(data))
        data += rng.choice([b"\n", b"\r\n"])
    buf = np.frombuffer(data, dtype=np.uint8)
    st, en = np.array(starts), np.array(ends)
    views, copied = _binary(buf, st, en), _binary_copy(buf, st, en)
    expected = [data[s:e] for s, e in zip(starts, ends, strict=True)]
    assert views.to_pylist() == copied.to_pylist() == expected
    assert pl.Series("r", views).to_list() == expected


@pytest.mark.parametrize(
    "data", [b"a", b"ab\n", b"abcdefghijk\n", b"abcdefghijkl", b"\n\n", b"x\nabcdefghijklmnop"]
)
def test_raw_records_as_views_of_small_buffers_and_the_last_bytes(data: bytes) -> None:
    """Records in a buffer shorter than a view's 12 inline bytes, or within 12 bytes of its end."""
    from midlayout.readers.csv import _binary, _binary_copy

    starts, ends, at = [], [], 0
    for line in data.split(b"\n"):
        starts.append(at)
        ends.append(at + len(line))
        at += len(line) + 1
    buf = np.frombuffer(data, dtype=np.uint8)
    st, en = np.array(starts), np.array(ends)
    expected = [data[s:e] for s, e in zip(starts, ends, strict=True)]
    assert _binary(buf, st, en).to_pylist() == _binary_copy(buf, st, en).to_pylist() == expected
