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
