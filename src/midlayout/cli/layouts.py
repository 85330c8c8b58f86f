"""`midlayout layouts list|show`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from midlayout.cli.common import AllowOutside, JsonOpt, LayoutsDirs, definitions, emit_json, guarded, stdout
from midlayout.layout.model import Layout
from midlayout.layout.registry import list_layouts, load_entry, resolve
from midlayout.layout.sheetexport import rule_node

app = typer.Typer(
    help="List and show the standard layouts (bundled, $MIDLAYOUT_LAYOUTS, --layouts-dir).",
    no_args_is_help=True,
)


@app.command("list")
@guarded
def list_cmd(
    layouts_dir: LayoutsDirs = None, allow_outside_definitions: AllowOutside = False, as_json: bool = JsonOpt
) -> int:
    """List every layout as ID@VERSION with its 業務, files and where it was found; exit 2 when there is none."""
    rows = []
    with definitions(layouts_dir, allow_outside_definitions):
        for entry in list_layouts():
            lay = load_entry(entry)
            rows.append(
                {
                    "ref": lay.ref,
                    "family": lay.family_name,
                    "gyomu": lay.gyomu_name,
                    "version": lay.version,
                    "files": [f.id for f in lay.files],
                    "path": str(lay.path),
                    "origin": entry.origin,
                }
            )
    if as_json:
        emit_json(rows)
        return 0
    table = Table("layout", "family", "業務", "files", "found in")
    for r in rows:
        table.add_row(
            str(r["ref"]), str(r["family"]), str(r["gyomu"]), ", ".join(r["files"]), str(r["origin"])
        )
    stdout.print(table)
    return 0


def layout_dict(lay: Layout) -> dict[str, object]:
    """A layout as plain data (for --json)."""
    return {
        "ref": lay.ref,
        "family": lay.family,
        "family_name": lay.family_name,
        "gyomu": lay.gyomu,
        "gyomu_name": lay.gyomu_name,
        "version": lay.version,
        "encoding": lay.encoding,
        "provenance": lay.provenance,
        "sha256": lay.sha256,
        "files": [
            {
                "id": f.id,
                "name": f.name,
                "key": list(f.key),
                "items": [
                    {
                        "no": it.no,
                        "id": it.id,
                        "name": it.name,
                        "type": it.type,
                        "length": it.length,
                        "unit": it.unit,
                        "required": it.required,
                        "code_table": it.code_table,
                        "references": f"{it.references.file}.{it.references.item}" if it.references else None,
                        "scale": it.scale,
                        "source_id": it.source_id,
                    }
                    for it in f.items
                ],
                "rules": [rule_node(r) for r in f.rules],
            }
            for f in lay.files
        ],
        "code_tables": {
            k: {"name": t.name, "digits": t.digits, "codes": t.codes} for k, t in lay.code_tables.items()
        },
    }


@app.command("show")
@guarded
def show_cmd(
    ref: Annotated[str, typer.Argument(help="ID@VERSION, e.g. chukan/juki@2.5")],
    layouts_dir: LayoutsDirs = None,
    allow_outside_definitions: AllowOutside = False,
    as_json: bool = JsonOpt,
) -> int:
    """Show the files and items of one layout."""
    with definitions(layouts_dir, allow_outside_definitions):
        lay = resolve(ref)
    if as_json:
        emit_json(layout_dict(lay))
        return 0
    stdout.print(
        Text.assemble(
            (lay.ref, "bold"), f"  {lay.family_name} {lay.gyomu_name} V{lay.version}  encoding={lay.encoding}"
        )
    )
    stdout.print(lay.provenance)
    for f in lay.files:
        table = Table(
            "no",
            "id",
            "項目名称",
            "type",
            "桁数",
            "required",
            "code / ref",
            title=f"{f.id} {f.name}  key={'+'.join(f.key)}",
        )
        for it in f.items:
            ref_text = it.code_table or (
                f"→ {it.references.file}.{it.references.item}" if it.references else ""
            )
            table.add_row(
                str(it.no),
                it.id,
                it.name,
                it.type,
                f"{it.length} {it.unit}",
                "yes" if it.required else "",
                ref_text,
            )
        stdout.print(table)
    for key, t in lay.code_tables.items():
        codes = Table("code", "meaning", title=f"code table {key} {t.name}  digits={t.digits}")
        for code, meaning in t.codes.items():
            codes.add_row(code, meaning)
        stdout.print(codes)
    return 0
