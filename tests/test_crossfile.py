"""Both engines of the cross-file checker (DuckDB out of core, polars in memory) agree with the former polars
one (tests/crossfile_polars.py) row for row: same rejected rows, rules, items and messages, through the
fixed-point cascade."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.layout.model import Layout
from midlayout.rejects import FILE, REC
from midlayout.validate import crossfile
from tests import crossfile_polars as reference
from tests.conftest import MAPPINGS

JUKI = load_mapping(MAPPINGS / "vendor_a" / "juki-2.5.yaml").target
ZEI = load_mapping(MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml").target
SETAI, JUMIN, KAZEI = "chukan/juki:setai", "chukan/juki:jumin", "chukan/kojin_juminzei:kazei"
ID = [FILE, REC]


def _layouts() -> dict[str, tuple[Layout, str]]:
    return {SETAI: (JUKI, "setai"), JUMIN: (JUKI, "jumin"), KAZEI: (ZEI, "kazei")}


def _with_ids(rows: list[dict], files: list[str]) -> pl.DataFrame:
    """Row ids as the readers give them: per input file, records numbered from 1."""
    frame = pl.DataFrame(rows, infer_schema_length=None)
    n = len(rows)
    cut = n // 2 if len(files) > 1 else n
    names = [files[0]] * cut + [files[-1]] * (n - cut)
    recs = list(range(1, cut + 1)) + list(range(1, n - cut + 1))
    return frame.with_columns(pl.Series(FILE, names, pl.String), pl.Series(REC, recs, pl.Int64)).select(
        FILE, REC, pl.exclude(FILE, REC)
    )


def _stage(frames: dict[str, pl.DataFrame], folder: Path, parts: int) -> dict[str, list[Path]]:
    """Each frame as `parts` Parquet parts (some may be empty), as the pipeline stages them."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    for k, (name, frame) in enumerate(frames.items()):
        size = -(-frame.height // parts) if frame.height else 1
        out[name] = []
        for p in range(parts):
            path = folder / f"t{k}-{p:03d}.parquet"
            frame.slice(p * size, size).write_parquet(path, compression="lz4")
            out[name].append(path)
    return out


def _check_both(frames: dict[str, pl.DataFrame], tmp_path: Path, parts: int = 3) -> dict[str, pl.DataFrame]:
    """Run the reference and both engines of the checker; assert they agree; return the rejects (sorted by
    row id)."""
    staged = _stage(frames, tmp_path / "stage", parts)
    layouts = _layouts()
    files = {
        n: crossfile.StagedFile(layouts[n][0], layouts[n][0].file(layouts[n][1]), staged[n]) for n in frames
    }
    new = crossfile.check_run(files, tmp_path / "work", in_memory=False)
    assert not (tmp_path / "work").exists()  # the scratch database and spill files are removed
    in_memory = crossfile.check_run(files, tmp_path / "work", in_memory=True)
    assert not (tmp_path / "work").exists()  # never created
    assert in_memory.unchecked == new.unchecked and list(in_memory.rejects) == list(new.rejects)
    for name in frames:  # same rows in the same order, same types
        assert in_memory.rejects[name].equals(new.rejects[name]), name
    old = reference.check_run(
        {
            n: reference.StagedFile(
                layouts[n][0], layouts[n][0].file(layouts[n][1]), pl.scan_parquet(staged[n])
            )
            for n in frames
        }
    )
    assert new.unchecked == old.unchecked
    assert list(new.rejects) == list(old.rejects)
    for name in frames:
        got, want = new.rejects[name].sort(ID), old.rejects[name].sort(ID)
        assert got.schema == want.schema
        assert got.to_dicts() == want.to_dicts(), name
    return {n: r.sort(ID) for n, r in new.rejects.items()}


def _random_run(rng: random.Random, households: int, with_tax: bool) -> dict[str, pl.DataFrame]:
    """Small key spaces so that duplicates, dangling references, 0/1/2+ 世帯主 and cascades all occur."""

    def maybe_null(value: str, p: float = 0.03) -> str | None:
        return None if rng.random() < p else value

    setai, jumin = [], []
    for _ in range(households):
        setai_no = f"S{rng.randrange(int(households * 1.1)):04d}"  # some 世帯番号 repeat
        head = f"A{rng.randrange(households * 3):05d}"  # may name no one, or someone else's row
        setai.append({"setai_no": maybe_null(setai_no), "setainushi_atena_no": maybe_null(head, 0.05)})
        for _ in range(rng.choice([0, 1, 2, 3])):
            member_setai = setai_no if rng.random() < 0.9 else f"S{rng.randrange(households * 2):04d}"
            jumin.append(
                {
                    "atena_no": maybe_null(f"A{rng.randrange(households * 3):05d}"),
                    "setai_no": maybe_null(member_setai),
                    "zokugara": maybe_null(rng.choice(["02", "02", "12", "20", "51"]), 0.02),
                }
            )
    frames = {
        SETAI: _with_ids(setai, ["/in/SETAI.DAT"]),
        JUMIN: _with_ids(jumin, ["/in/JUMIN.DAT", "/in/JUMIN2.DAT"]),
    }
    if with_tax:
        kazei = [
            {
                "kazei_nendo": rng.choice([2024, 2025]),
                "atena_no": maybe_null(
                    rng.choice(jumin)["atena_no"]
                    if jumin and rng.random() < 0.8
                    else f"A{rng.randrange(99999)}"
                ),
            }
            for _ in range(households)
        ]
        frames[KAZEI] = _with_ids(kazei, ["/in/ZEI.DAT"])
    return frames


@pytest.mark.parametrize("seed", range(12))
def test_duckdb_checker_matches_the_polars_one_on_random_runs(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    rejects = _check_both(_random_run(rng, rng.choice([5, 40, 200]), with_tax=seed % 2 == 0), tmp_path)
    if seed == 0:  # the data is rich enough to exercise every rule
        rules = pl.concat(rejects.values()).get_column("rule").unique().to_list()
        assert {"key_unique", "reference", "one_head_per_setai"} <= set(rules)


def test_cascade_and_messages(tmp_path: Path) -> None:
    # 世帯 S1: two 世帯主 → rejected ("2件"); its members then point at a rejected 世帯.
    # 世帯 S2: no 世帯主 → rejected ("0件"). S3: its 世帯主 A9 is a duplicate 宛名番号 (key_unique), which
    # leaves S3 with a 世帯主 reference to rejected rows (the first rule wins over "0件"). S4's 世帯主 does not
    # exist, so S4 goes, and with it its member A4.
    setai = [
        {"setai_no": "S1", "setainushi_atena_no": "A1"},
        {"setai_no": "S2", "setainushi_atena_no": "A3"},
        {"setai_no": "S3", "setainushi_atena_no": "A9"},
        {"setai_no": "S4", "setainushi_atena_no": "A404"},
        {"setai_no": "S5", "setainushi_atena_no": "A5"},
    ]
    jumin = [
        {"atena_no": "A1", "setai_no": "S1", "zokugara": "02"},
        {"atena_no": "A2", "setai_no": "S1", "zokugara": "02"},
        {"atena_no": "A3", "setai_no": "S2", "zokugara": "12"},
        {"atena_no": "A9", "setai_no": "S3", "zokugara": "02"},
        {"atena_no": "A9", "setai_no": "S5", "zokugara": "20"},
        {"atena_no": "A4", "setai_no": "S4", "zokugara": "02"},
        {"atena_no": "A5", "setai_no": "S5", "zokugara": "02"},
        {"atena_no": "A6", "setai_no": "S77", "zokugara": "20"},
    ]
    frames = {SETAI: _with_ids(setai, ["/in/SETAI.DAT"]), JUMIN: _with_ids(jumin, ["/in/JUMIN.DAT"])}
    rejects = _check_both(frames, tmp_path, parts=2)
    got = {
        (n.split(":")[1], rec): (rule, msg)
        for n, r in rejects.items()
        for rec, rule, msg in r.select(REC, "rule", "message").iter_rows()
    }
    head = "世帯主（続柄02）が世帯に一人ではない"
    assert got == {
        ("setai", 1): ("one_head_per_setai", f"{head}: 2件"),
        ("setai", 2): ("one_head_per_setai", f"{head}: 0件"),
        ("setai", 3): ("reference", "世帯主宛名番号 matches a 住民.atena_no row that was itself rejected"),
        ("setai", 4): ("reference", "世帯主宛名番号 has no match in 住民.atena_no"),
        ("jumin", 1): ("reference", "世帯番号 matches a 世帯.setai_no row that was itself rejected"),
        ("jumin", 2): ("reference", "世帯番号 matches a 世帯.setai_no row that was itself rejected"),
        ("jumin", 3): ("reference", "世帯番号 matches a 世帯.setai_no row that was itself rejected"),
        ("jumin", 4): ("key_unique", "key atena_no is not unique in 住民"),
        ("jumin", 5): ("key_unique", "key atena_no is not unique in 住民"),
        ("jumin", 6): (
            "reference",
            "世帯番号 matches a 世帯.setai_no row that was itself rejected",
        ),  # S4, 2nd pass
        ("jumin", 8): ("reference", "世帯番号 has no match in 世帯.setai_no"),
    }


def test_reference_to_a_layout_not_in_the_run_is_unchecked(tmp_path: Path) -> None:
    kazei = _with_ids([{"kazei_nendo": 2025, "atena_no": "A1"}] * 2, ["/in/ZEI.DAT"])
    rejects = _check_both({KAZEI: kazei}, tmp_path, parts=1)
    assert rejects[KAZEI].get_column("rule").to_list() == ["key_unique", "key_unique"]


def test_empty_staged_files(tmp_path: Path) -> None:
    schema = {FILE: pl.String, REC: pl.Int64, "setai_no": pl.String, "setainushi_atena_no": pl.String}
    jumin_schema = {FILE: pl.String, REC: pl.Int64, "atena_no": pl.String, "setai_no": pl.String}
    frames = {
        SETAI: pl.DataFrame(schema=schema),
        JUMIN: pl.DataFrame(schema=jumin_schema | {"zokugara": pl.String}),
    }
    rejects = _check_both(frames, tmp_path, parts=1)
    assert all(r.height == 0 for r in rejects.values())


def test_the_engine_follows_the_row_threshold_and_the_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In memory while the rule columns fit (rows and estimated bytes), DuckDB above: with the same rejects
    either way (the convert-level check of the same is in tests/test_streaming_writes.py)."""
    frames = _random_run(random.Random(3), 200, with_tax=True)
    staged = _stage(frames, tmp_path / "stage", 3)
    layouts = _layouts()
    files = {
        n: crossfile.StagedFile(layouts[n][0], layouts[n][0].file(layouts[n][1]), staged[n]) for n in frames
    }
    assert crossfile.fits_in_memory(files, None) and crossfile.fits_in_memory(files, "256MB")
    assert not crossfile.fits_in_memory(files, "10KB")  # a --memory-limit bounds the in-memory engine too
    monkeypatch.setattr(crossfile, "CROSSFILE_IN_MEMORY_ROWS", 10)
    assert not crossfile.fits_in_memory(files, None)
    assert crossfile.memory_bytes("1.5GiB") == 3 << 29 and crossfile.memory_bytes("256MB") == 256 * 10**6


@pytest.mark.parametrize("switch_at", [None, 150, 0, "expected"])
def test_the_collector_fed_batches_in_any_order_gives_the_same_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch_at: int | str | None
) -> None:
    """Batches as frames or staged parts, jobs interleaved and out of order: the rejects of the staged
    parts in order. `switch_at`: the row threshold, crossed part-way (150: the rows so far spill to a file
    and the later batches follow, the rules run in DuckDB) or at once (0); "expected": the inputs say up
    front that the rows will not fit (nothing is held in memory); None: in memory all along."""
    frames = _random_run(random.Random(5), 200, with_tax=True)
    staged = _stage(frames, tmp_path / "stage", 4)
    layouts = _layouts()
    files = {
        n: crossfile.StagedFile(layouts[n][0], layouts[n][0].file(layouts[n][1]), staged[n]) for n in frames
    }
    want = crossfile.check_run(files, tmp_path / "work", in_memory=True)
    expected = None
    if isinstance(switch_at, int):
        monkeypatch.setattr(crossfile, "CROSSFILE_IN_MEMORY_ROWS", switch_at)
    elif switch_at == "expected":
        monkeypatch.setattr(crossfile, "CROSSFILE_IN_MEMORY_ROWS", 1000)
        expected = {SETAI: 600, JUMIN: 500}
    targets = {n: (sf.layout, sf.file) for n, sf in files.items()}
    collector = crossfile.KeyCollector(targets, tmp_path / "w", expected=expected)
    assert (collector.spilled is not None) == (switch_at == "expected")
    batches = [(n, part) for n, parts in staged.items() for part in parts]
    random.Random(1).shuffle(batches)
    for k, (name, part) in enumerate(batches):
        if k % 2:
            collector.add(name, k, pl.read_parquet(part))  # a frame with every column: the rule ones are kept
        else:
            collector.add_part(name, k, part)
    for future in collector.pending:
        future.result()
    assert (collector.spilled is not None) == (switch_at is not None)
    assert (tmp_path / "w").exists() == (switch_at is not None)  # the frames' rule columns, spilled
    assert all(not f for f in collector.frames.values()) == (switch_at is not None)
    got = collector.finish()
    assert not (tmp_path / "w").exists()
    assert got.unchecked == want.unchecked and list(got.rejects) == list(want.rejects)
    assert sum(r.height for r in got.rejects.values()) > 0
    for name in frames:
        assert got.rejects[name].equals(want.rejects[name]), name


def test_a_failing_batch_is_raised_and_the_collector_closes(tmp_path: Path) -> None:
    collector = crossfile.KeyCollector({SETAI: (JUKI, JUKI.file("setai"))}, tmp_path / "w", in_memory=True)
    with pytest.raises(FileNotFoundError):  # at the next call, or at once if the thread is done with it
        collector.add_part(SETAI, 0, tmp_path / "missing.parquet")
        collector.finish()
    collector.close()  # as the staging area does whatever happened; twice is harmless
    assert collector.lane._shutdown and not (tmp_path / "w").exists()
