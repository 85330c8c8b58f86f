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
                str(tmp_path / Path(mapping).parent.name),
                "-w",
                "standard",
            ],
        )
        assert result.exit_code == 1, result.stderr


# --- 3. every usage and I/O error is exit 2, early, in one plain line ---


def _run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_out_that_is_a_file_or_a_dangling_symlink_is_exit_2(tmp_path: Path) -> None:
    """Before: exit 3 (FileExistsError / an internal error), after reading the inputs."""
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    code, err, _ = _convert(tmp_path, PERSON)  # a fine run first: the inputs are good
    assert code == 1, err
    result = runner.invoke(
        app, ["convert", "-m", B_MAPPING, str(PERSON), str(HOUSEHOLD), "--out", str(afile)]
    )
    _one_line(result.exit_code, result.stderr, "--out", "afile", "is a file")
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    result = runner.invoke(app, ["convert", "-m", B_MAPPING, str(PERSON), str(HOUSEHOLD), "--out", str(link)])
    _one_line(result.exit_code, result.stderr, "dangling symbolic link")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes (the mode bits are asserted instead)")
def test_out_in_a_read_only_folder_is_exit_2(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        result = runner.invoke(
            app, ["convert", "-m", B_MAPPING, str(PERSON), str(HOUSEHOLD), "--out", str(ro / "out")]
        )
        _one_line(result.exit_code, result.stderr, "cannot create the folder")
    finally:
        ro.chmod(0o755)


def test_out_folder_checks_a_read_only_folder_by_its_mode_bits(tmp_path: Path) -> None:
    """As root (CI) the refusal itself cannot be seen: the check is os.access, and the mode is what it reads."""
    from midlayout.outpaths import out_folder

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    assert ro.stat().st_mode & 0o777 == 0o555
    if os.geteuid() != 0:
        from midlayout.errors import UsageError

        with pytest.raises(UsageError, match="not writable"):
            out_folder(ro)
    ro.chmod(0o755)


def test_synth_out_file_is_exit_2(tmp_path: Path) -> None:
    """Before: exit 3 (NotADirectoryError)."""
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    code, _, err = _run_cli("synth", "--vendor", "b", "-n", "2", "--out", str(afile))
    _one_line(code, err, "--out", "is a file")


def test_rejects_report_out_dir_is_exit_2_and_leaves_no_temp(tmp_path: Path) -> None:
    """Before: exit 3 (IsADirectoryError) and a `.bad.tmp-NNNN` left behind."""
    code, err, out = _convert(tmp_path, PERSON)
    assert code == 1, err
    folder = tmp_path / "bad"
    folder.mkdir()
    code, _, err = _run_cli("rejects-report", str(out / "rejects.parquet"), "--out", str(folder))
    _one_line(code, err, "is a directory")
    assert not [p.name for p in tmp_path.rglob(".*tmp*")]


def test_rejects_report_masks_values_not_messages_without_one(tmp_path: Path) -> None:
    """Before: every message was ●●●, also those built from the layout alone; a message quoting a value
    (a date as written, a vendor code) stays masked unless --show-values."""
    from midlayout.audit.rejects import summarise

    code, err, out = _convert(tmp_path, PERSON)
    assert code == 1, err
    rows = summarise(out / "rejects.parquet")["samples"]
    samples = {r["rule"]: r["message"] for r in rows}
    assert samples["code_unmapped"] == "●●●"  # names the vendor code
    assert samples["invalid_wareki"] == "●●●"  # quotes the date as written
    revealed = {
        r["rule"]: r["message"] for r in summarise(out / "rejects.parquet", show_values=True)["samples"]
    }
    assert revealed["invalid_wareki"].startswith("invalid 和暦 date")


def test_rejects_report_keeps_messages_built_from_the_layout_alone(tmp_path: Path) -> None:
    import polars as pl

    from midlayout.audit.rejects import summarise
    from midlayout.rejects import REJECT_SCHEMA

    rows = [
        ("validate", "required", "生年月日: required, but empty"),
        ("validate", "birth_date_if_known", "生年月日: required when 生年月日不詳フラグ is 0"),
        ("validate", "repertoire", "氏名: 髙 (U+9AD9) at char 1 is not in cp932"),
        ("map", "invalid_wareki", "invalid 和暦 date: H99.13.45"),
        ("decode", "invalid_bytes", "invalid bytes 0x8540 (byte 3 of the field)"),
        ("crossfile", "reference", "世帯番号 0001234: no such 世帯"),
    ]
    frame = pl.DataFrame(
        {
            "file": ["F"] * len(rows),
            "record": list(range(1, len(rows) + 1)),
            "byte_offset": [0] * len(rows),
            "record_offset": [0] * len(rows),
            "stage": [r[0] for r in rows],
            "rule": [r[1] for r in rows],
            "item": ["x"] * len(rows),
            "field": [None] * len(rows),
            "message": [r[2] for r in rows],
            "raw": [b"x"] * len(rows),
        },
        schema=REJECT_SCHEMA,
    )
    frame.write_parquet(tmp_path / "rejects.parquet")
    got = {r["rule"]: r["message"] for r in summarise(tmp_path / "rejects.parquet")["samples"]}
    assert got["required"] == rows[0][2] and got["birth_date_if_known"] == rows[1][2]
    assert {got[r] for r in ("repertoire", "invalid_wareki", "invalid_bytes", "reference")} == {"●●●"}


def test_inspect_draft_layout_into_a_dir_or_over_a_file(tmp_path: Path) -> None:
    """Before: a directory was exit 3 (IsADirectoryError); an existing file was overwritten silently."""
    code, _, err = _run_cli("inspect", str(PERSON), "--draft-layout", str(tmp_path))
    _one_line(code, err, "--draft-layout", "is a directory")
    draft = tmp_path / "draft.yaml"
    draft.write_text("mine\n", encoding="utf-8")
    code, _, err = _run_cli("inspect", str(PERSON), "--draft-layout", str(draft))
    _one_line(code, err, "exists", "--force")
    assert draft.read_text(encoding="utf-8") == "mine\n"
    code, _, err = _run_cli("inspect", str(PERSON), "--draft-layout", str(draft), "--force")
    assert code in (0, 1) and draft.read_text(encoding="utf-8").startswith("# Draft")


@pytest.mark.parametrize("kind", ["cp932", "binary"])
def test_a_mapping_or_job_yaml_not_in_utf8_is_exit_2_naming_it(tmp_path: Path, kind: str) -> None:
    """Before: exit 3 with a UnicodeDecodeError and no file named."""
    text = (MAPPINGS / "vendor_b" / "juki-2.5.yaml").read_text(encoding="utf-8")
    data = text.encode("cp932", errors="replace") if kind == "cp932" else b"\x00\x01\xfe\xff" * 64
    mapping = tmp_path / "mapping.yaml"
    mapping.write_bytes(data)
    result = runner.invoke(
        app, ["convert", "-m", str(mapping), str(PERSON), str(HOUSEHOLD), "--out", str(tmp_path / "o")]
    )
    _one_line(result.exit_code, result.stderr, "mapping.yaml", "UTF-8")
    job = tmp_path / "job.yaml"
    job.write_bytes(data)
    code, _, err = _run_cli("run", str(job))
    _one_line(code, err, "job.yaml", "UTF-8")


def test_a_directory_as_input_or_mapping_says_so(tmp_path: Path) -> None:
    """Before: "file not found"."""
    (tmp_path / "person.csv").mkdir()
    result = runner.invoke(
        app,
        [
            "convert",
            "-m",
            B_MAPPING,
            str(tmp_path / "person.csv"),
            str(HOUSEHOLD),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    _one_line(result.exit_code, result.stderr, "person.csv", "is a directory")
    result = runner.invoke(
        app, ["convert", "-m", str(tmp_path), str(PERSON), str(HOUSEHOLD), "--out", str(tmp_path / "o")]
    )
    _one_line(result.exit_code, result.stderr, "is a directory")


def test_paths_are_printed_as_plain_text_not_markup(tmp_path: Path) -> None:
    """Before: `person=no[/such]/person.csv` was a MarkupError traceback with exit 1, and
    `backup[old]/person.csv` was reported as `backup/person.csv`."""
    result = runner.invoke(
        app,
        [
            "convert",
            "-m",
            B_MAPPING,
            "person=no[/such]/person.csv",
            str(HOUSEHOLD),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    line = _one_line(result.exit_code, result.stderr, "no[/such]/person.csv")
    assert "MarkupError" not in line
    backup = tmp_path / "backup[old]"
    backup.mkdir()
    (backup / "person.csv").write_bytes(b"")
    result = runner.invoke(
        app,
        [
            "convert",
            "-m",
            B_MAPPING,
            str(backup / "person.csv"),
            str(HOUSEHOLD),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    _one_line(result.exit_code, result.stderr, "backup[old]/person.csv", "empty")


def test_reconcile_keeps_its_output_labels_and_piped_numbers_do_not_wrap(tmp_path: Path) -> None:
    """Before: the table dropped `[parquet]`/`[duckdb]`/`[standard]`; piped at 80 columns, long names
    pushed numbers onto two lines."""
    long_name = tmp_path / ("person_" + "x" * 90 + ".csv")
    long_name.write_bytes(PERSON.read_bytes())
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["convert", "-m", B_MAPPING, str(long_name), str(HOUSEHOLD), "--out", str(out)]
    )
    assert result.exit_code == 1, result.stderr
    row = next(line for line in result.stdout.splitlines() if long_name.name in line)
    assert (
        row.split("│")[2:5] == [" 51   ", " 48      ", " 3        "] or "51" in row.split(long_name.name)[1]
    )
    code, stdout_text, err = _run_cli("reconcile", str(out / "manifest.json"))
    assert code in (0, 1), err
    for label in ("[parquet]", "[duckdb]", "[standard]"):
        assert label in stdout_text, label


def test_the_summary_lists_distinct_unmapped_codes_with_counts(tmp_path: Path) -> None:
    path = _sample_with(
        tmp_path, '"小林　加奈","コバヤシ　カナ","","女"', '"小林　加奈","コバヤシ　カナ","","不明"'
    )
    code, out, _ = _convert(tmp_path, path)
    assert code == 1
    table = out[out.index("unmapped vendor codes") :]
    rows = [line for line in table.splitlines() if "不明" in line]
    assert len(rows) == 1 and rows[0].split("│")[-2].strip() == "2"
    assert "小林" not in out


def test_the_unmapped_code_summary_reads_the_code_not_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary counts a structured column: a reworded reject message (or one without the code) cannot
    empty or merge it. Before, it parsed `code not in code map MAP: CODE` out of the message text."""
    from midlayout.mapping import ops

    monkeypatch.setattr(ops, "UNMAPPED_MESSAGE", "vendor code outside the code map {map}")
    path = _sample_with(
        tmp_path, '"小林　加奈","コバヤシ　カナ","","女"', '"小林　加奈","コバヤシ　カナ","","不明"'
    )
    code, out, where = _convert(tmp_path, path)
    assert code == 1
    messages = pl.read_parquet(where / "rejects.parquet").filter(pl.col("rule") == "code_unmapped")["message"]
    assert set(messages) == {"vendor code outside the code map vendor_b_seibetsu"}  # the wording did change
    table = out[out.index("unmapped vendor codes") :]
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if "不明" in line]
    assert rows == [["seibetsu", "vendor_b_seibetsu", "不明", "2"]], table
    assert "小林" not in out


# --- 4. progress and offsets ---


def test_every_reject_has_the_record_offset_and_the_field_offset(tmp_path: Path) -> None:
    """WAVE2: byte_offset = the field's file offset (record start when no field applies), record_offset =
    the record's; before, there was no record_offset and decode pointed at the bad character."""
    path = _sample_with(tmp_path, '"小林　加奈"', '"小林"加"奈"')
    code, err, out = _convert(tmp_path, path)
    assert code == 1, err
    rejects = pl.read_parquet(out / "rejects.parquet")
    assert rejects.columns.index("record_offset") == rejects.columns.index("byte_offset") + 1
    files = {p: Path(p).read_bytes() for p in rejects.get_column("file").unique()}
    for r in rejects.iter_rows(named=True):
        data = files[r["file"]]
        assert data[r["record_offset"] : r["record_offset"] + len(r["raw"])] == r["raw"], r["rule"]
        assert r["record_offset"] <= r["byte_offset"] < r["record_offset"] + max(len(r["raw"]), 1)
    quote = rejects.filter(pl.col("rule") == "quote_malformed").row(0, named=True)
    assert data_at(files[quote["file"]], quote["byte_offset"]).startswith('"小林"'.encode())


def data_at(data: bytes, offset: int) -> bytes:
    return data[offset : offset + 16]


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self, task: str, total: int) -> None:
        self.events.append(f"start {Path(task).name}")

    def advance(self, task: str, amount: int) -> None:
        pass

    def phase(self, name: str) -> None:
        self.events.append(name)


def test_progress_names_the_cross_file_and_write_phases(tmp_path: Path) -> None:
    """Before: cross-file checks and writing (15 s of a 28 s run) showed nothing."""
    from midlayout.layout.mapping import load_mapping
    from midlayout.pipeline.convert import convert
    from midlayout.pipeline.options import ConvertOptions

    recorder = _Recorder()
    convert(
        [load_mapping(Path(B_MAPPING))],
        [str(PERSON), str(HOUSEHOLD)],
        tmp_path / "o",
        ConvertOptions(writers=("standard",)),
        recorder,
    )
    assert recorder.events[-2:] == ["cross-file checks", "writing outputs"]
