"""Writers fed as the batches arrive (#14 item 3): a target the cross-file rules reject rows from is written
again and ends up exactly as when every target is written once after the cross-file rules (the path writers
that do not stream still take); a target without cross-file rejects is written once; the in-memory and the
DuckDB engines of the cross-file rules give the same outputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks.same_outputs import difference
from midlayout.layout.mapping import load_mapping
from midlayout.layout.registry import resolve
from midlayout.pipeline.convert import ConvertOptions, convert
from midlayout.pipeline.session import WriterSession
from midlayout.rejects import FILE, LEN, OFF, REC
from midlayout.validate import crossfile
from midlayout.writers import registry
from midlayout.writers.parquet import ParquetWriter
from tests.conftest import MAPPINGS, SAMPLES
from tests.synth import vendor_a

WRITERS = ("parquet", "duckdb", "standard", "fixed")
MAPS = [MAPPINGS / "vendor_a" / n for n in ("juki-2.5.yaml", "kojin_juminzei-2.5.yaml")]


def assert_identical(a: Path, b: Path) -> None:
    """Identical content (benchmarks/same_outputs.py) and the same Parquet bytes: streaming writes the very
    files the deferred path wrote."""
    found = difference(a, b)
    assert found is None, found
    for part in sorted(a.rglob("*.parquet")):
        rel = part.relative_to(a)
        assert part.read_bytes() == (b / rel).read_bytes(), rel


def _starts(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts ParquetWriter.start per layout file: 2 = started anew after the cross-file rules."""
    seen: Counter[str] = Counter()
    start = ParquetWriter.start

    def counted(self: ParquetWriter, layout: Any, file: Any) -> None:
        seen[file.id] += 1
        start(self, layout, file)

    monkeypatch.setattr(ParquetWriter, "start", counted)
    return seen


def _deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every writer as one that does not stream: each target written once, after the cross-file rules."""
    for cls in registry.available().values():
        monkeypatch.setattr(cls, "STREAMING", False)


def _run(inputs: list[str], out: Path, **kw: Any) -> None:
    options = ConvertOptions(WRITERS, **({"batch_size": 5, "workers": 1} | kw))
    convert([load_mapping(m) for m in MAPS], inputs, out, options)


def _crossfile_files(out: Path) -> set[str]:
    rejects = pl.read_parquet(out / "rejects.parquet").filter(pl.col("stage") == "crossfile")
    return {Path(f).name for f in rejects.get_column("file").to_list()}


def test_only_a_target_with_crossfile_rejects_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = vendor_a(tmp_path / "in", 6, 3)
    zei = paths[2].read_bytes()
    paths[2].write_bytes(zei + zei[:122])  # one 課税 record twice: key_unique in kazei only, nothing cascades
    inputs = [str(p) for p in paths]
    with monkeypatch.context() as mp:
        starts = _starts(mp)
        _run(inputs, tmp_path / "streamed")
    assert _crossfile_files(tmp_path / "streamed") == {"ZEI.DAT"}
    assert starts == {"jumin": 1, "setai": 1, "kazei": 2}  # jumin and setai were final as they streamed
    with monkeypatch.context() as mp:
        _deferred(mp)
        starts = _starts(mp)
        _run(inputs, tmp_path / "deferred")
    assert starts == {"jumin": 1, "setai": 1, "kazei": 1}
    assert_identical(tmp_path / "streamed", tmp_path / "deferred")


@pytest.mark.slow
def test_samples_streamed_in_two_workers_equal_the_deferred_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trap samples reject across files from every target (all are written again), in worker processes."""
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    with monkeypatch.context() as mp:
        starts = _starts(mp)
        _run(inputs, tmp_path / "streamed", batch_size=7, workers=2)
    assert _crossfile_files(tmp_path / "streamed") == {"JUMIN.DAT", "SETAI.DAT", "ZEI.DAT"}
    assert starts == {"jumin": 2, "setai": 2, "kazei": 2}
    with monkeypatch.context() as mp:
        _deferred(mp)
        _run(inputs, tmp_path / "deferred", batch_size=7)
    assert_identical(tmp_path / "streamed", tmp_path / "deferred")


def test_crossfile_engines_in_memory_and_duckdb_give_the_same_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    used: list[str] = []
    memory_init, duckdb_init = crossfile._InMemory.__init__, crossfile._Checker.__init__

    def in_memory(self: Any, *a: Any) -> None:
        used.append("polars")
        memory_init(self, *a)

    def in_duckdb(self: Any, *a: Any) -> None:
        used.append("duckdb")
        duckdb_init(self, *a)

    monkeypatch.setattr(crossfile._InMemory, "__init__", in_memory)
    monkeypatch.setattr(crossfile._Checker, "__init__", in_duckdb)
    _run(inputs, tmp_path / "memory")
    monkeypatch.setattr(crossfile, "CROSSFILE_IN_MEMORY_ROWS", 3)  # the threshold forced low
    _run(inputs, tmp_path / "duckdb")
    monkeypatch.setattr(crossfile, "CROSSFILE_IN_MEMORY_ROWS", 10**9)
    monkeypatch.setattr(crossfile, "BYTES_PER_VALUE", 10**6)  # as if each value took 1 MB: over 64MB
    _run(inputs, tmp_path / "limit", memory_limit="64MB")  # a --memory-limit too small for memory: DuckDB
    assert used == ["polars", "duckdb", "duckdb"]
    assert _crossfile_files(tmp_path / "memory") == {"JUMIN.DAT", "SETAI.DAT", "ZEI.DAT"}
    assert_identical(tmp_path / "memory", tmp_path / "duckdb")
    assert_identical(tmp_path / "memory", tmp_path / "limit")


def test_batches_of_a_target_out_of_order_are_written_from_the_sorted_parts(tmp_path: Path) -> None:
    """Two jobs of one target whose batches arrive job 1 first: the target is written again, in job order."""
    lay = resolve("chukan/juki@2.5")
    file = lay.file("setai")
    out = tmp_path / "o"
    _run([str(p) for p in vendor_a(tmp_path / "in", 6, 3)], out)
    rows = pl.read_parquet(out / "parquet" / "juki" / "setai.parquet")
    assert rows.height >= 4
    parts = []
    for job, frame in enumerate((rows.head(2), rows.slice(2))):
        staged = frame.with_columns(
            pl.lit(f"/in/SETAI{job}.DAT").alias(FILE),
            pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(REC),
            pl.lit(0, pl.Int64).alias(OFF),
            pl.lit(150, pl.Int64).alias(LEN),
        )
        parts.append(tmp_path / f"part-{job}.parquet")
        staged.write_parquet(parts[-1])
    name = "chukan/juki:setai"
    session = WriterSession(("parquet",), {}, tmp_path / "next")
    session.begin({name: (lay, file)})
    session.stream(name, 1, parts[1])
    session.stream(name, 0, parts[0])
    assert session.out_of_order == {name}
    session.open("a" * 64)
    no_rejects = pl.DataFrame(schema={FILE: pl.String, REC: pl.Int64})
    written = session.write({name: crossfile.StagedFile(lay, file, parts)}, {name: no_rejects})
    outputs = session.commit_files()
    assert session.rewritten == [name]
    assert pl.read_parquet(outputs[0].path).equals(rows)
    assert sorted(written.rows()) == [("/in/SETAI0.DAT", 2), ("/in/SETAI1.DAT", rows.height - 2)]


def test_the_crossfile_rules_read_no_staged_part_after_the_last_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their columns are gathered as each batch is staged, while the workers still run: once the last
    batch is in, only the rules themselves remain (the rejected records' provenance is read after them)."""
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    reads: list[str] = []
    finishing = [False]
    read_parquet, scan_parquet, finish = pl.read_parquet, pl.scan_parquet, crossfile.KeyCollector.finish

    def counted(real: Any) -> Any:
        def read(source: Any, *a: Any, **k: Any) -> Any:
            if finishing[0]:
                reads.append(str(source))
            return real(source, *a, **k)

        return read

    def finishing_rules(self: crossfile.KeyCollector) -> crossfile.CrossResult:
        for batch in self.pending:  # the thread may still be on the last batch or two (LANE_DEPTH)
            batch.result()
        finishing[0] = True
        try:
            return finish(self)
        finally:
            finishing[0] = False

    monkeypatch.setattr(pl, "read_parquet", counted(read_parquet))
    monkeypatch.setattr(pl, "scan_parquet", counted(scan_parquet))
    monkeypatch.setattr(crossfile.KeyCollector, "finish", finishing_rules)
    _run(inputs, tmp_path / "o")
    assert _crossfile_files(tmp_path / "o") == {"JUMIN.DAT", "SETAI.DAT", "ZEI.DAT"}  # the rules did reject
    assert reads == []
