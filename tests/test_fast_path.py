"""The optimised convert (worker processes, byte-scan prefilters, one codec call per column, shared 和暦
parses, lookup columns captured on the source's own pass, fused validation expressions) gives exactly what
a simple reference path gives: per-value decoding, no prefilters, in-process, lookup sources read again,
validation by pandera. On the trap corpora
(samples/, the text-fidelity corpus) and on random synthetic data with traps, small batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from midlayout.layout.mapping import load_mapping
from midlayout.mapping import ops
from midlayout.pipeline import batches
from midlayout.pipeline import convert as convert_mod
from midlayout.readers import decode, fixed, gaiji
from midlayout.synth import generate_vendor_a, generate_vendor_b
from midlayout.text import ebcdic
from midlayout.text.wareki import parse_wareki
from midlayout.validate import repertoire, schema
from tests import test_text_fidelity as fidelity
from tests.conftest import MAPPINGS, SAMPLES

WRITERS = ["parquet", "standard", "duckdb"]


def _reference_decode(
    values: np.ndarray, codec: str, ascii_only: bool | None = None
) -> tuple[pa.Array, list]:
    texts, failures = decode._slow_path(values, codec)
    return decode.flag_suspect_chars(pa.array(texts, type=pa.large_string()), codec, failures)


def _reference_fits(values: pl.Series, repertoires: tuple[str, ...]) -> bool:
    return all(repertoire.fits("\n".join(values.drop_nulls().to_list()), r) for r in repertoires)


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap every fast path for its simple twin (in this process only: the reference runs in-process)."""
    monkeypatch.setattr(fixed, "decode_column", _reference_decode)
    monkeypatch.setattr(decode, "may_hold", lambda arr, prefixes: True)
    monkeypatch.setattr(gaiji, "_may_hold_gaiji", lambda arr, spec: True)
    monkeypatch.setattr(repertoire, "_column_fits", _reference_fits)
    monkeypatch.setattr(
        ops.OpContext, "wareki", lambda self, text, args: parse_wareki(text, args["format"], args["eras"])
    )
    monkeypatch.setattr(convert_mod, "_capture_plan", lambda jobs: {})
    monkeypatch.setattr(batches, "validate_rows", schema.validate_with_pandera)


def _outputs(out: Path) -> dict[str, object]:
    """Everything a run leaves, compared by content (Parquet as frames, the rest as bytes or JSON)."""
    found: dict[str, object] = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if path.suffix == ".parquet":
            found[rel] = pl.read_parquet(path)
        elif path.suffix == ".csv":
            found[rel] = path.read_bytes()
        elif path.name == "manifest.json":
            m = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = (
                [(i["records_read"], i["records_written"], i["records_rejected"]) for i in m["inputs"]],
                m["rejects"],
                m["text"],
                m["status"],
                [(o["writer"], o["target"], o["rows"]) for o in m["outputs"]],
            )
    return found


def _assert_same(fast: dict[str, object], ref: dict[str, object]) -> None:
    assert fast.keys() == ref.keys()
    for key, value in fast.items():
        if isinstance(value, pl.DataFrame):
            assert value.equals(ref[key]), key  # type: ignore[arg-type]
        else:
            assert value == ref[key], key


def _both(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    mappings: list[Path],
    inputs: list[str],
    batch: int,
    **kw: object,
) -> None:
    maps = [load_mapping(m) for m in mappings]
    convert_mod.convert(maps, inputs, tmp_path / "fast", WRITERS, batch, workers=2, **kw)  # type: ignore[arg-type]
    request.getfixturevalue("reference")
    convert_mod.convert(maps, inputs, tmp_path / "ref", WRITERS, batch, workers=1, **kw)  # type: ignore[arg-type]
    _assert_same(_outputs(tmp_path / "fast"), _outputs(tmp_path / "ref"))


@pytest.mark.slow
def test_samples_vendor_a_same_as_reference(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    inputs = [str(SAMPLES / "vendor_a" / n) for n in ("JUMIN.DAT", "SETAI.DAT", "ZEI.DAT")]
    _both(
        tmp_path,
        request,
        [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"],
        inputs,
        7,
    )


@pytest.mark.slow
def test_samples_vendor_b_same_as_reference(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    inputs = [str(SAMPLES / "vendor_b" / n) for n in ("person.csv", "household.csv")]
    _both(tmp_path, request, [MAPPINGS / "vendor_b" / "juki-2.5.yaml"], inputs, 5)


@pytest.mark.slow
@pytest.mark.skipif(not ebcdic.available("ibm930"), reason="glibc iconv with IBM930 is needed")
@pytest.mark.parametrize("policy", [None, "flag"])
def test_text_fidelity_corpus_same_as_reference(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, policy: str | None
) -> None:
    mapping, inputs = fidelity._corpus(tmp_path, "repertoire: jisx0208")
    monkeypatch.setenv("MIDLAYOUT_LAYOUTS", str(tmp_path / "layouts"))
    _both(tmp_path, request, [mapping], inputs, 3, gaiji_unmapped=policy)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 2026])
def test_random_synthetic_with_traps_same_as_reference(
    tmp_path: Path, request: pytest.FixtureRequest, seed: int
) -> None:
    a = generate_vendor_a(tmp_path / "a", 120, seed, traps=True, workers=1)
    b = generate_vendor_b(tmp_path / "b", 60, seed, traps=True, workers=1)
    b_cp932 = generate_vendor_b(tmp_path / "bc", 60, seed, workers=1, encoding="cp932")
    _both(
        tmp_path / "ra",
        request,
        [MAPPINGS / "vendor_a" / "juki-2.5.yaml", MAPPINGS / "vendor_a" / "kojin_juminzei-2.5.yaml"],
        [str(p) for p in a.values()],
        37,
    )
    _both(
        tmp_path / "rb", request, [MAPPINGS / "vendor_b" / "juki-2.5.yaml"], [str(p) for p in b.values()], 29
    )
    _both(
        tmp_path / "rc",
        request,
        [MAPPINGS / "vendor_b" / "juki-2.5-cp932.yaml"],
        [str(p) for p in b_cp932.values()],
        50,
    )
