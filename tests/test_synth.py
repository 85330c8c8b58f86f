"""Tests for the synthetic extract generator (midlayout.synth) and the bundled samples."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from midlayout.layout.source import SourceFile, load_source
from midlayout.synth import generate_vendor_a, generate_vendor_b, vendor_a, vendor_b
from midlayout.synth.fixed import cut_cp932, pad_wide, zoned
from midlayout.synth.model import World
from midlayout.synth.output import AtomicFiles
from midlayout.synth.pools import build_pools
from midlayout.synth.traps import ORPHAN_ATENA
from midlayout.synth.wareki import dotted, era_yymmdd

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = 20261123
LAYOUT_A = load_source(ROOT / "mappings" / "vendor_a" / "source.yaml")
LAYOUT_B = load_source(ROOT / "mappings" / "vendor_b" / "source.yaml")


def records(source: SourceFile, path: Path) -> list[dict[str, bytes]]:
    """Cut a fixed-width file into records of field bytes, checking length and terminator of each."""
    data = path.read_bytes()
    step = source.record_length + len(source.terminator)
    assert len(data) % step == 0
    out = []
    for i in range(0, len(data), step):
        raw = data[i : i + step]
        assert raw[source.record_length :] == source.terminator
        out.append({f.id: raw[f.start : f.start + f.length] for f in source.fields})
    return out


def text(value: bytes) -> str:
    """A fixed-width text field decoded from CP932, ASCII and full-width padding removed."""
    return value.decode("cp932").rstrip(" \u3000")


def csv_rows(path: Path) -> list[list[str]]:
    """All rows of a vendor B CSV, header included."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def clean_a(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Vendor A, 60 households, no traps."""
    return generate_vendor_a(tmp_path_factory.mktemp("a"), 60, 7)


@pytest.fixture(scope="module")
def trapped_a(tmp_path_factory: pytest.TempPathFactory) -> vendor_a.Result:
    """Vendor A as bundled: 40 households, traps."""
    return vendor_a.write(tmp_path_factory.mktemp("ta"), 40, SEED, traps=True)


@pytest.fixture(scope="module")
def trapped_b(tmp_path_factory: pytest.TempPathFactory) -> vendor_a.Result:
    """Vendor B as bundled: 25 households, traps."""
    return vendor_b.write(tmp_path_factory.mktemp("tb"), 25, SEED, traps=True)


# --- determinism -------------------------------------------------------------------------------------------


def _bytes(paths: dict[str, Path]) -> dict[str, bytes]:
    """The content of each written file."""
    return {fid: p.read_bytes() for fid, p in paths.items()}


@pytest.mark.parametrize("generate", [generate_vendor_a, generate_vendor_b])
def test_same_seed_same_bytes_other_seed_other_bytes(generate, tmp_path: Path) -> None:
    """Same seed gives byte-identical files; another seed changes every file."""
    first = _bytes(generate(tmp_path / "1", 50, 11, traps=True))
    again = _bytes(generate(tmp_path / "2", 50, 11, traps=True))
    other = _bytes(generate(tmp_path / "3", 50, 12, traps=True))
    assert first == again
    assert all(first[fid] != other[fid] for fid in first)


@pytest.mark.parametrize("module", [vendor_a, vendor_b])
def test_chunks_in_worker_processes_give_the_same_bytes(module, tmp_path: Path) -> None:
    """Chunks made in worker processes give the same bytes and trap numbers as in-process."""
    inline = module.write(tmp_path / "1", 45, 3, traps=True, workers=1, chunk_size=30)
    pooled = module.write(tmp_path / "2", 45, 3, traps=True, workers=2, chunk_size=30)
    assert _bytes(inline.paths) == _bytes(pooled.paths)
    assert inline.traps == pooled.traps


def test_atomic_write_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    """An error while writing keeps the old file and leaves no temporary file."""
    (tmp_path / "OLD.DAT").write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicFiles(tmp_path, {"x": "OLD.DAT"}) as files:
        files.write("x", b"new")
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["OLD.DAT"]
    assert (tmp_path / "OLD.DAT").read_bytes() == b"old"


def test_traps_need_enough_households(tmp_path: Path) -> None:
    """Traps with too few households fail before anything is written."""
    with pytest.raises(ValueError, match="at least"):
        generate_vendor_a(tmp_path, 10, 1, traps=True)
    assert not list(tmp_path.iterdir())


# --- vendor A: lengths, terminators, round trip -------------------------------------------------------------


def test_vendor_a_record_lengths_and_terminators(clean_a: dict[str, Path]) -> None:
    """Every record has its declared length; SETAI.DAT has no newline at all."""
    jumin = clean_a["jumin"].read_bytes()
    setai = clean_a["setai"].read_bytes()
    zei = clean_a["kazei"].read_bytes()
    assert b"\r" not in setai and b"\n" not in setai
    assert len(setai) == 60 * 150
    assert len(jumin) == jumin.count(b"\r\n") * 302
    assert len(zei) == zei.count(b"\r\n") * 122
    assert all(len(line) == 300 for line in jumin.split(b"\r\n")[:-1])
    assert all(len(line) == 120 for line in zei.split(b"\r\n")[:-1])
    for fid in ("jumin", "setai", "kazei"):
        assert records(LAYOUT_A.file(fid), clean_a[fid])


def test_vendor_a_fields_round_trip_to_the_model(clean_a: dict[str, Path]) -> None:
    """Fields cut by byte offset and decoded from CP932 give back the generated values."""
    world = World(7, build_pools(7), 0, vendor_a.CHUNK)
    people = [(p, h) for h in world.households(60, {}) for p in h.members]
    rows = records(LAYOUT_A.file("jumin"), clean_a["jumin"])
    assert len(rows) == len(people)
    for row, (p, h) in zip(rows, people, strict=True):
        assert text(row["ATENA_NO"]) == p.atena and text(row["SETAI_NO"]) == p.setai
        assert int(row["KISAI_JUNI"]) == p.juni
        assert text(row["NAME_KANJI"]) == f"{p.sei}\u3000{p.mei}"
        assert text(row["KYUSHI"]) == p.kyushi
        assert text(row["ADDR1"]) == h.addr1 and text(row["ADDR2"]) == h.addr2
        assert text(row["KATAGAKI"]) == h.katagaki
        assert text(row["BIRTH"]) == era_yymmdd(p.birth, p.day_unknown)
        assert text(row["ZIP"]) in (h.zip, "")
        kana = row["NAME_KANA"].decode("cp932").rstrip(" ")
        assert len(kana.encode("cp932")) == len(kana)  # half-width only: one byte per character
    assert rows[0]["ADDR1"].find(b"\x95\x5c") >= 0  # 表, trail byte 0x5C


def test_vendor_a_padding_and_zoned_variants_appear(clean_a: dict[str, Path]) -> None:
    """Both paddings and both zoned forms (plain, overpunched) occur."""
    rows = records(LAYOUT_A.file("jumin"), clean_a["jumin"])
    assert any(r["ADDR1"].endswith(b"\x81\x40") or r["ADDR1"].endswith(b"\x81\x40 ") for r in rows)
    assert any(r["ADDR1"].endswith(b"  ") for r in rows)
    zei = records(LAYOUT_A.file("kazei"), clean_a["kazei"])
    assert any(re.fullmatch(rb"\d{10}[{A-I]", r["KYUYO"]) for r in zei)
    assert any(r["KYUYO"].isdigit() for r in zei)


def _amount(raw: bytes) -> int:
    """A zoned amount, positive overpunch allowed."""
    last = raw[-1:]
    return int(raw[:-1] + (last if last.isdigit() else str("{ABCDEFGHI".index(last.decode())).encode()))


def test_vendor_a_tax_amounts_are_consistent(clean_a: dict[str, Path]) -> None:
    """ZEI amounts agree with each other and with 課税区分, for people in JUMIN."""
    jumin = {r["ATENA_NO"] for r in records(LAYOUT_A.file("jumin"), clean_a["jumin"])}
    for r in records(LAYOUT_A.file("kazei"), clean_a["kazei"]):
        a = {k: _amount(r[k]) for k in vendor_a.AMOUNTS}
        assert r["ATENA_NO"] in jumin and r["NENDO"] == b"2024"
        assert a["KAZEI"] == max(a["SOTOKU"] - a["KOJO"], 0)
        assert (a["SHIZEI"], a["KENZEI"]) == (a["KAZEI"] * 6 // 100, a["KAZEI"] * 4 // 100)
        assert a["ZEIGAKU"] == a["SHIZEI"] + a["KENZEI"] + a["KINTO"]
        kubun = "1" if a["SHIZEI"] + a["KENZEI"] else ("2" if a["KINTO"] else "3")
        assert r["KUBUN"].decode() == kubun and a["KINTO"] in (0, 5000)


def test_exactly_one_head_per_household_in_clean_data(clean_a: dict[str, Path]) -> None:
    """Clean data: one 世帯主 per 世帯, 記載順位 1..n, unique 宛名番号."""
    rows = records(LAYOUT_A.file("jumin"), clean_a["jumin"])
    heads = Counter(r["SETAI_NO"] for r in rows if r["ZOKU"] == b"01")
    setai = records(LAYOUT_A.file("setai"), clean_a["setai"])
    assert set(heads) == {r["SETAI_NO"] for r in setai} and set(heads.values()) == {1}
    by_setai: dict[bytes, list[int]] = {}
    for r in rows:
        by_setai.setdefault(r["SETAI_NO"], []).append(int(r["KISAI_JUNI"]))
    assert all(juni == list(range(1, len(juni) + 1)) for juni in by_setai.values())
    assert len({r["ATENA_NO"] for r in rows}) == len(rows)


# --- vendor A: traps ----------------------------------------------------------------------------------------


def test_vendor_a_traps_are_where_the_notes_say(trapped_a: vendor_a.Result) -> None:
    """Each vendor A trap is present at its noted record."""
    paths = trapped_a.paths
    jumin = records(LAYOUT_A.file("jumin"), paths["jumin"])
    setai = {r["SETAI_NO"] for r in records(LAYOUT_A.file("setai"), paths["setai"])}
    zei = records(LAYOUT_A.file("kazei"), paths["kazei"])
    at = {n.key: n.record for n in trapped_a.traps}
    row = {key: jumin[n - 1] for key, n in at.items() if key != "zei_orphan"}
    assert row["sex_x"]["SEX"] == b"X"
    assert row["birth_h310501"]["BIRTH"] == b"4310501"
    assert row["setai_missing"]["SETAI_NO"] not in setai
    two = row["two_heads"]["SETAI_NO"]
    assert sum(1 for r in jumin if r["SETAI_NO"] == two and r["ZOKU"] == b"01") == 2
    assert zei[at["zei_orphan"] - 1]["ATENA_NO"] == ORPHAN_ATENA.encode()
    assert ORPHAN_ATENA.encode() not in {r["ATENA_NO"] for r in jumin}
    assert row["variant_taka"]["NAME_KANJI"].startswith(b"\xfb\xfc")
    assert text(row["variant_taka"]["NAME_KANJI"]).startswith("髙橋")
    assert (
        text(row["variant_saki"]["NAME_KANJI"]).startswith("山﨑")
        and b"\xfa\xb1" in row["variant_saki"]["NAME_KANJI"]
    )
    assert text(row["variant_watanabe"]["NAME_KANJI"]).startswith("渡邉")
    assert (
        row["gaiji"]["NAME_KANJI"].startswith(b"\xf0\x40") and text(row["gaiji"]["NAME_KANJI"])[0] == "\ue000"
    )
    cut = row["cut_char"]["NAME_KANJI"]
    assert cut[-1] == 0x88 and cut_cp932(cut, 40) == cut[:-1]
    with pytest.raises(UnicodeDecodeError):
        cut.decode("cp932")
    assert row["birth_day_unknown"]["BIRTH"].endswith(b"00")
    assert [r["BIRTH"].endswith(b"00") for r in jumin].count(True) == 1


def test_vendor_a_trap_records_otherwise_well_formed(trapped_a: vendor_a.Result) -> None:
    """Trap runs keep every record length and terminator."""
    for fid in ("jumin", "setai", "kazei"):
        assert records(LAYOUT_A.file(fid), trapped_a.paths[fid])
    assert len(trapped_a.traps) == 11


# --- vendor B ----------------------------------------------------------------------------------------------


def test_vendor_b_csv_parses_into_the_layout_header(trapped_b: vendor_a.Result) -> None:
    """The CSVs have a BOM, quoted fields, CRLF, and the layout's header."""
    for fid in ("person", "household"):
        path = trapped_b.paths[fid]
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert raw.endswith(b"\r\n")
        rows = csv_rows(path)
        assert rows[0] == [f.column for f in LAYOUT_B.file(fid).fields]
        assert all(len(r) == len(rows[0]) for r in rows)
        first = raw[3:].split(b"\r\n")[1]
        assert first.startswith(b'"') and first.endswith(b'"') and b'","' in first


def test_vendor_b_values(trapped_b: vendor_a.Result) -> None:
    """Vendor B values: quoting cases, full-width postcodes, 世帯主 column, dates, kana."""
    people = csv_rows(trapped_b.paths["person"])[1:]
    homes = csv_rows(trapped_b.paths["household"])[1:]
    assert any("," in r[13] for r in people) and any("\n" in r[13] for r in people)
    assert any("\uff10" <= ch <= "\uff19" for r in people for ch in r[11])
    by_code = {r[0]: r for r in people}
    for code, head, _, address in homes:
        atena, name = head.split(" ", 1)
        assert by_code[atena][3] == name and by_code[atena][1] == code and by_code[atena][8] == "世帯主"
        assert by_code[atena][12] == address
    for r in people:
        assert re.fullmatch(r"[MTSHR]\d\d\.\d\d\.\d\d", r[7])
        assert re.fullmatch(r"[ァ-ヶー\u3000Ａ-Ｚ]+", r[4])


def test_vendor_b_traps(trapped_b: vendor_a.Result) -> None:
    """Each vendor B trap is present at its noted record."""
    people = csv_rows(trapped_b.paths["person"])[1:]
    codes = {r[0] for r in csv_rows(trapped_b.paths["household"])[1:]}
    at = {n.key: people[n.record - 1] for n in trapped_b.traps}
    assert at["b_sex_unknown"][6] == "不明"
    assert at["b_household_missing"][1] not in codes
    assert at["b_birth_h310501"][7] == "H31.05.01"
    assert [r[6] for r in people].count("不明") == 1


def test_clean_vendor_b_has_one_head_per_household(tmp_path: Path) -> None:
    """Clean vendor B data: one 世帯主 per household and only mapped sexes."""
    paths = generate_vendor_b(tmp_path, 40, 5)
    people = csv_rows(paths["person"])[1:]
    heads = Counter(r[1] for r in people if r[8] == "世帯主")
    assert set(heads.values()) == {1} and len(heads) == len(csv_rows(paths["household"])) - 1
    assert {r[6] for r in people} <= {"男", "女"}


# --- bundled samples -----------------------------------------------------------------------------------------


def test_bundled_samples_are_exactly_regenerated(
    trapped_a: vendor_a.Result, trapped_b: vendor_a.Result
) -> None:
    """samples/ matches a fresh run of samples/regenerate.py byte for byte."""
    for result, folder in ((trapped_a, "vendor_a"), (trapped_b, "vendor_b")):
        for path in result.paths.values():
            assert (SAMPLES / folder / path.name).read_bytes() == path.read_bytes(), path.name


def test_samples_readme_lists_every_trap(trapped_a: vendor_a.Result, trapped_b: vendor_a.Result) -> None:
    """samples/README.md lists every trap at its record number."""
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for note in (*trapped_a.traps, *trapped_b.traps):
        assert f"| {note.file} | {note.record} |" in readme, note


# --- helpers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "code", "letters"),
    [
        (date(1989, 1, 7), "3640107", "S64.01.07"),
        (date(1989, 1, 8), "4010108", "H01.01.08"),
        (date(2019, 4, 30), "4310430", "H31.04.30"),
        (date(2019, 5, 1), "5010501", "R01.05.01"),
        (date(1926, 12, 24), "2151224", "T15.12.24"),
        (date(1912, 7, 30), "2010730", "T01.07.30"),
    ],
)
def test_wareki_boundaries(day: date, code: str, letters: str) -> None:
    """Era boundaries in both 和暦 forms."""
    assert era_yymmdd(day) == code and dotted(day) == letters


def test_fixed_helpers() -> None:
    """Zoned digits, character-safe cuts and full-width padding."""
    assert zoned(120, 5) == b"00120" and zoned(123, 5, True) == b"0012C" and zoned(0, 3, True) == b"00{"
    with pytest.raises(ValueError):
        zoned(-1, 3)
    with pytest.raises(ValueError):
        zoned(1000, 3)
    assert cut_cp932("ab漢字".encode("cp932"), 5) == b"ab\x8a\xbf"
    assert cut_cp932("ｱ表".encode("cp932"), 2) == "ｱ".encode("cp932")
    assert pad_wide(b"ab", 7) == b"ab\x81\x40\x81\x40 "


def test_synth_host_without_encoding_asks_for_one(tmp_path: Path) -> None:
    """--encoding defaults to vendor B's utf-8-sig: for host that default must not be read as the user's choice."""
    from typer.testing import CliRunner

    from midlayout.cli.app import app

    result = CliRunner().invoke(
        app, ["synth", "--vendor", "host", "--households", "1", "--out", str(tmp_path / "h")]
    )
    assert result.exit_code == 2, result.output
    assert "needs --encoding" in result.output and "utf-8-sig" not in result.output
