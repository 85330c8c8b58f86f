"""Tables of definitions as they come: Excel workbooks (merged cells filled in) and CSV files, as text grids.

openpyxl is the reader and the writer: it is the one maintained library that both writes xlsx (for
`layouts export`) and reports merged cells (a merged header such as 桁数 spanning two rows or columns is
filled into every cell it covers). The Rust readers (python-calamine, fastexcel) are 20 to 50 times
faster, but a definitions sheet has hundreds of rows, not millions: 1,000 rows read in about 0.2 s.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from midlayout.errors import InputError, Location


@dataclass(frozen=True)
class Sheet:
    """One sheet as rows of stripped text ('' for an empty cell); `rows[0]` is row 1 of the sheet."""

    name: str
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Workbook:
    """The sheets of one definitions file, with what `provenance:` records of it."""

    path: Path
    sheets: tuple[Sheet, ...]
    sha256: str


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as Excel names columns)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


class SheetError(InputError):
    """A cell of a definitions sheet that cannot be interpreted (exit 2): names sheet, row and column."""

    def __init__(
        self, book: Path, sheet: str, row: int, col: int | None, message: str, header: str = ""
    ) -> None:
        where = f"sheet {sheet}, row {row}" + (f", column {column_letter(col)}" if col is not None else "")
        where += f" ({header})" if header and col is not None else ""
        super().__init__(f"{where}: {message}", Location(file=str(book)))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_sheets(path: Path) -> tuple[Sheet, ...]:
    import zipfile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"not a readable xlsx workbook ({exc})", Location(file=str(path))) from None
    out = []
    for ws in wb.worksheets:
        grid = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        for rng in ws.merged_cells.ranges:
            value = grid[rng.min_row - 1][rng.min_col - 1] if len(grid) >= rng.min_row else ""
            for r in range(rng.min_row - 1, min(rng.max_row, len(grid))):
                for c in range(rng.min_col - 1, min(rng.max_col, len(grid[r]))):
                    grid[r][c] = value
        out.append(Sheet(ws.title, tuple(tuple(r) for r in grid)))
    return tuple(out)


def _csv_sheet(path: Path, data: bytes) -> Sheet:
    for codec in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError("a definitions CSV is UTF-8 or CP932", Location(file=str(path)))
    rows = tuple(tuple(cell.strip() for cell in row) for row in csv.reader(io.StringIO(text, newline="")))
    return Sheet(path.stem, rows)


def read_workbook(path: Path) -> Workbook:
    """Read an .xlsx (every sheet) or a .csv (one sheet, named after the file)."""
    if not path.is_file():
        raise InputError("file not found", Location(file=str(path)))
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return Workbook(path, _xlsx_sheets(path), sha)
    if suffix == ".csv":
        return Workbook(path, (_csv_sheet(path, data),), sha)
    raise InputError("a definitions sheet is .xlsx or .csv", Location(file=str(path)))


def write_xlsx(path: Path, sheets: list[tuple[str, list[list[object]], list[str]]]) -> None:
    """Write sheets (name, rows, merged ranges such as "A1:H1") as one workbook, atomically."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for name, rows, merged in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in merged:
            ws.merge_cells(rng)
        ws["A1"].font = Font(bold=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)


def write_csv(path: Path, rows: list[list[object]]) -> None:
    """One sheet as UTF-8 CSV with a BOM (Excel opens it as UTF-8), atomically."""
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows([["" if v is None else v for v in r] for r in rows])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")
    tmp.replace(path)
