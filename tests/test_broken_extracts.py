"""A broken extract is diagnosed at its first bad byte and never read as something else
(docs/broken-extracts.md): quoting errors cost one record each, framing and encoding faults stop the run
early with one line, usage and I/O errors are exit 2 in one plain line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from midlayout.cli import app
from midlayout.layout.source import SourceFile, load_source
from midlayout.readers import read_batches
from tests import fuzz_convert
from tests.conftest import MAPPINGS, SAMPLES

runner = CliRunner()
B_MAPPING = str(MAPPINGS / "vendor_b" / "juki-2.5.yaml")
PERSON = SAMPLES / "vendor_b" / "person.csv"
HOUSEHOLD = SAMPLES / "vendor_b" / "household.csv"


def _person_source(**changes: object) -> SourceFile:
    from dataclasses import replace

    source = next(f for f in load_source(MAPPINGS / "vendor_b" / "source.yaml").files if f.id == "person")
    return replace(source, **changes)  # type: ignore[arg-type]


def _read(path: Path, source: SourceFile | None = None, batch: int = 100_000) -> tuple[int, pl.DataFrame]:
    batches = list(read_batches(source or _person_source(), path, batch))
    return sum(b.records_read for b in batches), pl.concat([b.rejects for b in batches])


def _convert(tmp_path: Path, person: Path, *extra: str) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "convert",
            "-m",
            B_MAPPING,
            str(person),
            str(HOUSEHOLD),
            "--out",
            str(out),
            "-w",
            "standard",
            *extra,
        ],
    )
    return result.exit_code, result.stderr + result.stdout, out


def _sample_with(tmp_path: Path, old: str, new: str) -> Path:
    data = PERSON.read_bytes()
    assert old.encode() in data
    path = tmp_path / "person.csv"
    path.write_bytes(data.replace(old.encode(), new.encode(), 1))
    return path


# --- 1. CSV quoting errors are per-record rejects, never a merge ---


def test_a_stray_quote_costs_one_record_not_the_file(tmp_path: Path) -> None:
    """Before: 51 records read as 5 (one reject swallowing the rest), exit 1 with households rejected."""
    path = _sample_with(
        tmp_path, '"0000100002","0000500002","2","小林', '"0000100002","0000500002","2","小"林'
    )
    read, rejects = _read(path)
    assert read == 51
    assert rejects.select("record", "rule").rows() == [(2, "quote_malformed")]
    assert rejects.get_column("raw")[0].count(b"\n") == 0  # the record alone
    code, err, out = _convert(tmp_path, path)
    assert code == 1 and "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    person = next(i for i in manifest["inputs"] if i["source"] == "person")
    assert (person["records_read"], person["records_rejected"]) == (51, 3 + 1)  # the sample has 3
    household = next(i for i in manifest["inputs"] if i["source"] == "household")
    assert household["records_rejected"] == 1  # as in the sample: no household lost its members


def test_the_samples_multiline_records_still_load(tmp_path: Path) -> None:
    read, rejects = _read(PERSON, batch=3)
    assert read == 51 and rejects.height == 0


@pytest.mark.parametrize(
    ("new", "rule", "what"),
    [
        ('"小林"加"奈"', "quote_malformed", "text after the closing quote"),
        ('"小林　加奈" ', "quote_malformed", "a space after the closing quote"),
        ('"小林　加奈"x', "quote_malformed", "text after the closing quote"),
        ('小林"加奈', "quote_malformed", "quote inside an unquoted field"),
    ],
)
def test_malformed_quotes_are_rejects_not_silent_changes(
    tmp_path: Path, new: str, rule: str, what: str
) -> None:
    """Before: `"小林"加"奈"` was written as 小林加奈; a space or text after the closing quote was exit 3
    with a polars ComputeError that repeated the name on stderr."""
    path = _sample_with(tmp_path, '"小林　加奈"', new)
    read, rejects = _read(path)
    assert read == 51
    assert rejects.select("rule", "field").rows() == [(rule, "shimei")]
    (message,) = rejects.get_column("message").to_list()
    assert what in message and "小林" not in message
    offset = PERSON.read_bytes().index('"小林　加奈"'.encode())
    assert rejects.get_column("byte_offset")[0] == offset  # the field's offset in the file
    code, err, _ = _convert(tmp_path, path)
    assert code == 1 and "Traceback" not in err and "小林" not in err


def test_an_unclosed_quote_in_the_last_field_is_one_reject(tmp_path: Path) -> None:
    """Before: exit 3 (polars ComputeError naming the 方書)."""
    data = PERSON.read_bytes()
    lines = data.split(b"\n")
    lines[3] = lines[3][:-2] + b"\r"  # record 3 loses the closing quote of its last field
    path = tmp_path / "person.csv"
    path.write_bytes(b"\n".join(lines))
    read, rejects = _read(path)
    assert read == 51
    assert rejects.select("record", "rule", "field").rows() == [(3, "quote_unclosed", "katagaki")]
    assert "quote opened at byte" in rejects.get_column("message")[0]
    code, err, _ = _convert(tmp_path, path)
    assert code == 1 and "Traceback" not in err


def test_an_unclosed_quote_at_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "person.csv"
    path.write_bytes(PERSON.read_bytes().rstrip(b"\r\n")[:-1] + b"\r\n")
    read, rejects = _read(path)
    assert read == 51
    assert rejects.get_column("rule").to_list() == ["quote_unclosed"]
    assert "not closed before the end of the file" in rejects.get_column("message")[0]


def test_an_unclosed_quote_that_swallows_more_than_the_bound_names_where_it_opened(tmp_path: Path) -> None:
    header = PERSON.read_bytes().split(b"\n", 1)[0] + b"\n"
    fields = 14
    good = (",".join(['"x"'] * fields) + "\r\n").encode()
    bad = (",".join(['"x"'] * (fields - 1)) + ',"open\r\n').encode()
    rest = good.replace(b'"', b"") * 20_000  # no quotes for > 64 KiB after the opening one
    path = tmp_path / "person.csv"
    path.write_bytes(header + good + bad + rest)
    read, rejects = _read(path)
    assert read == 2 + 20_000
    (message,) = rejects.get_column("message").to_list()
    opened = len(header) + len(good) + bad.index(b'"open')
    assert message == f"quote opened at byte {opened} is not closed within 65,536 bytes"


def test_bare_quotes_literal_keeps_the_quote_as_text(tmp_path: Path) -> None:
    path = _sample_with(tmp_path, '"小林　加奈"', '小林"加奈')
    batches = list(read_batches(_person_source(bare_quotes="literal"), path))
    rows = pl.concat([b.rows for b in batches])
    assert sum(b.rejects.height for b in batches) == 0
    assert '小林"加奈' in rows.get_column("shimei").to_list()


def test_bare_quotes_is_validated(tmp_path: Path) -> None:
    src = (MAPPINGS / "vendor_b" / "source.yaml").read_text(encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(
        src.replace("format: csv", "format: csv\n    bare_quotes: sometimes", 1), encoding="utf-8"
    )
    from midlayout.errors import DefinitionError

    with pytest.raises(DefinitionError, match="bare_quotes"):
        load_source(path)


# --- the fuzz: mutated samples through `convert` ---


@pytest.mark.slow
def test_fuzz_convert_on_mutated_samples(tmp_path: Path) -> None:
    """Fixed seed; MIDLAYOUT_FUZZ_CASES (default 120 here, thousands in `make fuzz`)."""
    cases = int(os.environ.get("MIDLAYOUT_FUZZ_CASES", "120"))
    first = int(os.environ.get("MIDLAYOUT_FUZZ_SEED", "0"))
    for seed in range(first, first + cases):
        fuzz_convert.run_case(tmp_path, seed, runner)


# --- 2. the wrong encoding or framing is an input error, before the first batch ---

A_MAPPING = str(MAPPINGS / "vendor_a" / "juki-2.5.yaml")


def _one_line(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _vendor_a(tmp_path: Path, n: int = 40) -> list[Path]:
    from tests.builders import household, person, write_vendor_a

    people = [
        person(i, 1000 + i, 1, NAME_KANJI="試験\u3000花子", NAME_KANA="ｼｹﾝ ﾊﾅｺ") for i in range(1, n + 1)
    ]
    return write_vendor_a(tmp_path / "in", people, [household(1000 + i, i) for i in range(1, n + 1)])


def _convert_a(tmp_path: Path, paths: list[Path], *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "convert",
            "-m",
            A_MAPPING,
            *map(str, paths),
            "--out",
            str(tmp_path / "o"),
            "-w",
            "standard",
            *extra,
        ],
    )
    return result.exit_code, result.stderr + result.stdout


def test_an_euc_jp_extract_given_to_a_cp932_layout_is_exit_2_naming_both(tmp_path: Path) -> None:
    """Before: most records rejected and some written as valid mojibake (ｺｴﾆ｣｡｡ｳﾘ), exit 1."""
    from dataclasses import replace

    from tests.builders import VENDOR_A, person, record

    paths = _vendor_a(tmp_path)
    euc = replace(VENDOR_A.file("jumin"), encoding="euc-jp")
    people = [person(i, 1000 + i, 1, NAME_KANJI="試験\u3000花子", NAME_KANA="ｼｹﾝﾊﾅｺ") for i in range(1, 41)]
    people[0]["NAME_KANJI"] = "ＡＢ"  # a record that happens to be valid CP932 too
    paths[0].write_bytes(b"".join(record(euc, p) + b"\r\n" for p in people))
    code, err = _convert_a(tmp_path, paths)
    _one_line(code, err, "JUMIN.DAT", "not valid cp932", "euc-jp")
    assert not (tmp_path / "o" / "standard").exists()


def test_a_record_length_of_two_lines_is_exit_2(tmp_path: Path) -> None:
    """Before: `record_length: 301` over 150-byte + LF lines read each pair as one record, exit 0."""
    src = tmp_path / "source.yaml"
    src.write_text(
        "vendor: t\nname: t\nfiles:\n  - id: f\n    name: f\n    format: fixed\n    encoding: cp932\n"
        "    match: '*.DAT'\n    record_length: 301\n    terminator: lf\n    offset_base: 0\n"
        "    fields:\n      - {id: A, start: 0, length: 301}\n",
        encoding="utf-8",
    )
    path = tmp_path / "F.DAT"
    path.write_bytes(b"".join(f"{i:0150d}".encode() + b"\n" for i in range(40)))
    from midlayout.errors import InputError
    from midlayout.readers.preflight import preflight

    with pytest.raises(InputError, match="line end at byte 150 of its 301.*150 bytes"):
        preflight(load_source(src).files[0], path)


@pytest.mark.parametrize("what", ["utf-8", "random"])
def test_a_file_that_is_not_these_records_fails_at_record_1(tmp_path: Path, what: str) -> None:
    """Before: a UTF-8 file for a CP932 layout said "record 25 truncated" for 20 lines; 1 MB of random
    bytes "record 3473 truncated"."""
    import numpy as np

    paths = _vendor_a(tmp_path, 20)
    if what == "utf-8":
        data = paths[0].read_bytes().decode("cp932").encode("utf-8")
    else:
        data = np.random.default_rng(5).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    paths[0].write_bytes(data)
    code, err = _convert_a(tmp_path, paths)
    _one_line(code, err, "JUMIN.DAT", "record 1", "record length mismatch")


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"\x1f\x8b\x08\x00" + bytes(60), "gzip"),
        (b"PK\x03\x04" + bytes(26) + b"[Content_Types].xml" + bytes(40), "Excel workbook"),
        (b"PK\x03\x04" + bytes(26) + b"person.csv" + bytes(40), "zip archive"),
    ],
)
def test_compressed_or_spreadsheet_inputs_are_exit_2(tmp_path: Path, head: bytes, what: str) -> None:
    path = tmp_path / "person.csv"
    path.write_bytes(head)
    code, err, _ = _convert(tmp_path, path)
    _one_line(code, err, "person.csv", what)


def test_an_empty_input_is_exit_2_unless_allowed(tmp_path: Path) -> None:
    paths = _vendor_a(tmp_path, 3)
    paths[0].write_bytes(b"")
    code, err = _convert_a(tmp_path, paths)
    _one_line(code, err, "JUMIN.DAT", "empty", "--allow-empty")
    code, err = _convert_a(tmp_path, paths, "--allow-empty")
    assert code in (0, 1), err


@pytest.mark.parametrize(("term", "name"), [(b"\r\n", "crlf"), (b"\n", "lf"), (b"", "none")])
def test_terminator_auto_reads_each_framing_and_says_which(tmp_path: Path, term: bytes, name: str) -> None:
    from tests.builders import VENDOR_A, person, record

    folder = tmp_path / "maps"
    import shutil

    shutil.copytree(MAPPINGS / "vendor_a", folder)
    text = (folder / "source.yaml").read_text(encoding="utf-8")
    (folder / "source.yaml").write_text(
        text.replace("terminator: crlf", "terminator: auto", 1), encoding="utf-8"
    )
    paths = _vendor_a(tmp_path, 5)
    people = [person(i, 1000 + i, 1) for i in range(1, 6)]
    paths[0].write_bytes(b"".join(record(VENDOR_A.file("jumin"), p) + term for p in people))
    result = runner.invoke(
        app,
        ["convert", "-m", str(folder / "juki-2.5.yaml"), *map(str, paths), "--out", str(tmp_path / "o")]
        + ["-w", "standard", "--json"],
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    jumin = next(i for i in manifest["inputs"] if i["source"] == "jumin")
    assert (jumin["terminator"], jumin["records_read"]) == (name, 5)


def _euc_jumin(tmp_path: Path, n: int) -> list[Path]:
    """A vendor A extract whose JUMIN.DAT is EUC-JP, with one record invalid in every candidate (so the
    sample check before the run cannot name another encoding: the decode-rate stop must)."""
    from dataclasses import replace

    from tests.builders import VENDOR_A, household, person, record, write_vendor_a

    people = [person(i, 1000 + i, 1, NAME_KANA="ｼｹﾝﾊﾅｺ") for i in range(1, n + 1)]
    paths = write_vendor_a(tmp_path / "in", people, [household(1000 + i, i) for i in range(1, n + 1)])
    euc = replace(VENDOR_A.file("jumin"), encoding="euc-jp")
    people[0]["NAME_KANJI"] = b"\xff\xfe\xff"
    paths[0].write_bytes(b"".join(record(euc, p) + b"\r\n" for p in people))
    return paths


def test_the_decode_rate_stop_names_the_likely_encoding(tmp_path: Path) -> None:
    """Before: exit 1 with 249 of 250 records rejected (and any record that happened to decode written)."""
    paths = _euc_jumin(tmp_path, 250)
    code, err = _convert_a(tmp_path, paths, "--batch-size", "50")
    _one_line(code, err, "JUMIN.DAT", "not valid cp932", "valid euc-jp", "--max-reject-rate")
    code, err = _convert_a(tmp_path, paths, "--batch-size", "50", "--max-reject-rate", "1")
    assert code == 1, err


def test_the_trap_samples_still_convert_under_the_decode_rate_stop(tmp_path: Path) -> None:
    for mapping, files in (
        (A_MAPPING, [SAMPLES / "vendor_a" / n for n in ("JUMIN.DAT", "SETAI.DAT")]),
        (B_MAPPING, [PERSON, HOUSEHOLD]),
    ):
        result = runner.invoke(
            app,
            [
                "convert",
                "-m",
                mapping,
                *map(str, files),
                "--out",
                str(tmp_path / mapping[-12:]),
                "-w",
                "standard",
            ],
        )
        assert result.exit_code == 1, result.stderr
