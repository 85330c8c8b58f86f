"""`midlayout inspect FILE`: encoding, line endings, record length or CSV dialect, masked preview."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from midlayout.cli.common import FOUND, OK, JsonOpt, emit_json, guarded, stderr, stdout
from midlayout.outpaths import out_file
from midlayout.pipeline.manifest import write_atomic
from midlayout.readers.inspect import Inspection, draft_layout, inspect_file


def _print(info: Inspection) -> None:
    enc = info.encoding
    stdout.print(f"file: {info.path} ({info.size} bytes)")
    verdict = (
        f"{enc['confirmed']} (strict decode of the whole file)"
        if enc["confirmed"]
        else f"tied: {', '.join(enc['tied'])} all decode strictly (choose one)"
        if enc.get("tied")
        else "none of the candidates decodes"
    )
    stdout.print(
        f"encoding: {verdict}; chardet guessed {enc['guess']} ({enc['confidence']}): {enc['guess_verdict']}"
    )
    for t in enc["tried"]:
        if not t["ok"]:
            stdout.print(f"  {t['encoding']}: fails at byte {t['byte']} ({t['reason']})")
    endings = ", ".join(f"{k} {v}" for k, v in info.line_endings.items() if v) or "none"
    stdout.print(f"BOM: {info.bom or 'none'}; line endings: {endings}")
    if info.fixed:
        f = info.fixed
        stdout.print(
            f"fixed-width: record length {f['record_length']} bytes, terminator {f['terminator']}, "
            f"{f['records']} records ({f['how']})"
        )
    elif info.csv:
        c = info.csv
        stdout.print(f"CSV: delimiter {c['delimiter']!r}, quote {c['quote']!r}, {c['columns']} columns")
    else:
        stdout.print("format: not recognised (neither equal-length records nor a CSV dialect)")
    stdout.print("preview" + (" (masked; --show-values to see them)" if info.preview_masked else "") + ":")
    for line in info.preview:
        stdout.print(f"  {line}", markup=False)


def inspect_cmd(
    file: Annotated[Path, typer.Argument(help="The extract to inspect.")],
    draft_layout_out: Annotated[
        Path | None, typer.Option("--draft-layout", help="Write a draft source-layout YAML here.")
    ] = None,
    show_values: Annotated[
        bool,
        typer.Option("--show-values", metavar="", help="Show the preview unmasked (personal data!)."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --draft-layout file.")
    ] = False,
    as_json: bool = JsonOpt,
) -> None:
    """Report an extract's encoding, line endings, record length or CSV dialect, and a masked preview."""

    @guarded
    def run() -> int:
        if draft_layout_out is not None:
            out_file(draft_layout_out, "--draft-layout", force)
        info = inspect_file(file, show_values)
        if draft_layout_out is not None:
            text = yaml.safe_dump(draft_layout(file, info), allow_unicode=True, sort_keys=False)
            write_atomic(
                draft_layout_out,
                ("# Draft from `midlayout inspect`: check every field before use.\n" + text).encode("utf-8"),
            )
            stderr.print(f"draft source layout written to {draft_layout_out}", highlight=False)
        if as_json:
            emit_json(info.to_dict())
        else:
            _print(info)
        return OK if info.confirmed else FOUND

    run()
