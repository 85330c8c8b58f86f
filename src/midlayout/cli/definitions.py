"""`midlayout layouts import|export|diff` and `midlayout mapping check`: definitions in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from midlayout.cli.common import AllowOutside, JsonOpt, LayoutsDirs, definitions, emit_json, guarded, stdout
from midlayout.errors import InputError, Location, UsageError
from midlayout.layout.registry import resolve

ImportAs = Annotated[
    str, typer.Option("--as", help="standard (a データ項目一覧表) or source (a vendor layout).")
]


@guarded
def import_cmd(
    sheets: Annotated[
        list[Path], typer.Argument(help="SHEET.xlsx, SHEET.csv (or a folder of CSV), or a COBOL .cpy/.cbl.")
    ],
    as_: ImportAs,
    out: Annotated[Path, typer.Option("--out", help="Folder (layouts tree) or FILE.yaml to write.")],
    columns: Annotated[
        Path | None, typer.Option("--columns", help="YAML {header text: role} for unknown headers.")
    ] = None,
    family: Annotated[str | None, typer.Option("--family")] = None,
    gyomu: Annotated[str | None, typer.Option("--gyomu")] = None,
    version: Annotated[str | None, typer.Option("--version")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Layout or extract encoding.")] = None,
    terminator: Annotated[str | None, typer.Option("--terminator", help="Source: crlf, lf or none.")] = None,
    match: Annotated[
        str | None, typer.Option("--match", help="Source: file name pattern of the extract.")
    ] = None,
    vendor: Annotated[str | None, typer.Option("--vendor", help="Source: vendor id.")] = None,
    redefines: Annotated[
        str | None, typer.Option("--redefines", help="COBOL: `first` keeps the first of REDEFINES.")
    ] = None,
    as_json: bool = JsonOpt,
) -> int:
    """Import a layout sheet (xlsx/csv) or a COBOL copybook as layout YAML (exit 2 on a bad cell)."""
    from midlayout.layout import sheetimport, sourceimport

    try:
        if as_ == "standard":
            opts = sheetimport.Options(family=family, gyomu=gyomu, version=version, encoding=encoding)
            report = sheetimport.import_standard(sheets, out, opts, columns)
        elif as_ == "source":
            sopts = sourceimport.SourceOptions(
                encoding=encoding, terminator=terminator, match=match, vendor=vendor, redefines=redefines
            )
            report = sourceimport.import_source(sheets, out, sopts, columns)
        else:
            raise UsageError(f"--as {as_!r}: standard or source")
    except OSError as exc:  # --out under a file, a folder without write permission: the user's path
        raise InputError(
            f"cannot write the import ({exc.strerror or exc})", Location(file=str(exc.filename or out))
        ) from None
    if as_json:
        emit_json(report.as_dict())
        return 0
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(report.skipped.items())) or "none"
    stdout.print(f"{report.files} file(s), {report.items} item(s); rows skipped: {skipped}")
    if report.conditional:
        stdout.print(
            f"{report.conditional} item(s) are 条件付き必須: write each condition as a `rules:` entry"
        )
    for path in report.written:
        stdout.print(f"wrote {path}")
    return 0


@guarded
def export_cmd(
    ref: Annotated[str, typer.Argument(help="ID@VERSION, e.g. chukan/juki@2.5")],
    out: Annotated[Path, typer.Option("--out", help="FILE.xlsx, or a folder for csv (one file per sheet).")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> int:
    """Write a layout as a データ項目一覧表 (its code tables on their own sheet)."""
    from midlayout.layout.sheetexport import export_layout

    with definitions(layouts_dir, allow_outside_definitions):
        written = export_layout(resolve(ref), fmt, out)
    if as_json:
        emit_json({"written": [str(p) for p in written]})
        return 0
    for path in written:
        stdout.print(f"wrote {path}")
    return 0


@guarded
def diff_cmd(
    a: Annotated[str, typer.Argument(help="ID@VERSION, e.g. chukan/juki@2.4")],
    b: Annotated[str, typer.Argument(help="ID@VERSION, e.g. chukan/juki@2.5")],
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> int:
    """Files, items and code values added, removed and changed from A to B (exit 0 same, 1 different)."""
    from midlayout.layout.layoutdiff import diff_layouts

    with definitions(layouts_dir, allow_outside_definitions):
        result = diff_layouts(resolve(a), resolve(b))
    if as_json:
        emit_json(result.as_dict())
    elif result.same:
        stdout.print(f"{result.a} and {result.b} define the same files, items and codes")
    else:
        for line in result.lines():
            stdout.print(line, markup=False)
    return 0 if result.same else 1


mapping_app = typer.Typer(help="Check mappings against layout versions.", no_args_is_help=True)


@mapping_app.command("check")
@guarded
def mapping_check_cmd(
    mapping: Annotated[Path, typer.Argument(help="A mapping YAML (vendor → standard).")],
    layout: Annotated[str, typer.Option("--layout", help="ID@VERSION to check it against.")],
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> int:
    """Lines of MAPPING that break, or new items it leaves unmapped, against another layout version
    (exit 0 nothing breaks, 1 something does)."""
    from midlayout.layout.mappingcheck import check_mapping

    with definitions(layouts_dir, allow_outside_definitions):
        result = check_mapping(mapping, layout)
    if as_json:
        emit_json(result.as_dict())
    elif not result.findings:
        stdout.print(f"{mapping} maps onto {result.layout} as it is")
    else:
        for line in result.lines():
            stdout.print(line, markup=False)
    return 0 if result.ok else 1
