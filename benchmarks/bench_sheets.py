"""How long a definitions workbook takes to read: openpyxl (midlayout's reader and writer) against the Rust
readers python-calamine and fastexcel when they are installed (they are not dependencies).

A synthetic 基本データリスト-like sheet: a merged title, a blank row, a header and MIDLAYOUT_BENCH_SHEET_ROWS
item rows (default 1,000). Best of 5 reads each. The figures in docs/definitions.md come from this script.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl


def _book(path: Path, rows: int) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "住民"
    ws["A1"] = "データ項目一覧表"
    ws.merge_cells("A1:H1")
    ws.append([])
    ws.append(
        ["項番", "データ項目ID", "データ項目名", "データ型", "桁数", "データ出力条件", "コード一覧", "備考"]
    )
    for i in range(rows):
        ws.append([i + 1, f"0010{i:05d}", f"項目{i}", "文字", "１０", "任意", "", ""])
    wb.save(path)


def _best(fn: Callable[[], object], n: int = 5) -> float:
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rows = int(os.environ.get("MIDLAYOUT_BENCH_SHEET_ROWS", "1000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.xlsx"
        _book(path, rows)
        from midlayout.layout.sheets import read_workbook

        cases: dict[str, Callable[[], object]] = {
            "midlayout (openpyxl, merged cells filled)": lambda: read_workbook(path)
        }
        try:
            from python_calamine import CalamineWorkbook

            cases["python-calamine"] = lambda: (
                CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
            )
        except ImportError:
            print("python-calamine not installed: skipped")
        try:
            import fastexcel

            cases["fastexcel"] = lambda: (
                fastexcel.read_excel(str(path)).load_sheet(0, header_row=None).to_polars()
            )
        except ImportError:
            print("fastexcel not installed: skipped")
        for name, fn in cases.items():
            print(f"{name}: {_best(fn) * 1000:.1f} ms for {rows:,} rows")


if __name__ == "__main__":
    main()
