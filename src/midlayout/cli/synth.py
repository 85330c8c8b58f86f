"""`midlayout synth`: write a deterministic synthetic vendor extract (for tests, demos and benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from midlayout.cli.common import FLAG, OK, JsonOpt, emit_json, guarded, phases, stdout
from midlayout.errors import UsageError
from midlayout.outpaths import out_folder

VENDORS = ("a", "b", "host")


def synth_cmd(
    vendor: Annotated[
        str,
        typer.Option(
            "--vendor",
            metavar="a|b|host",
            help="a: fixed-width CP932 (JUMIN/SETAI/ZEI); b: CSV (person/household); "
            "host: vendor A's JUMIN/SETAI in a JEF/KEIS/JIPS --encoding, with definitions/.",
        ),
    ],
    households: Annotated[
        int, typer.Option("--households", "-n", help="Number of households (about 2.2 people each).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    seed: Annotated[int, typer.Option("--seed", "-s", help="Same seed, same bytes.")] = 1,
    traps: Annotated[
        bool,
        typer.Option(
            "--traps", metavar=FLAG, help="Put the documented bad records into the first households."
        ),
    ] = False,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            metavar="ENCODING",
            help="Vendor B: utf-8-sig (default) or cp932. Host: jef-ebcdik, keis83-ebcdic, jipse-ebcdik…",
        ),
    ] = "utf-8-sig",
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes (default: one per CPU).")
    ] = None,
    as_json: bool = JsonOpt,
) -> None:
    """Generate a synthetic extract: fictional people, realistic bytes. Never real data."""

    @guarded
    def run() -> int:
        from midlayout.synth import generate_vendor_a, generate_vendor_b

        if vendor not in VENDORS:
            raise UsageError(f"--vendor must be one of {', '.join(VENDORS)}")
        if households < 1:
            raise UsageError("--households must be at least 1")
        if vendor == "host" and encoding == "utf-8-sig":
            raise UsageError(
                "--vendor host needs --encoding (a JEF/KEIS/JIPS code, e.g. jef-ebcdik or keis83-ebcdic)"
            )
        if vendor == "a" and encoding != "utf-8-sig":
            raise UsageError("--encoding applies to vendor b only (vendor a is CP932 by its layout)")
        out_folder(out)
        try:
            with phases(not as_json) as phase:
                phase(f"writing {households:,} synthetic households (vendor {vendor}) to {out}")
                if vendor == "host":
                    from midlayout.synth import host

                    paths = host.write(out, encoding, households, seed, traps).paths
                elif vendor == "a":
                    paths = generate_vendor_a(out, households, seed, traps, workers=workers)
                else:
                    paths = generate_vendor_b(
                        out, households, seed, traps, workers=workers, encoding=encoding
                    )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        files = {fid: {"path": str(p), "bytes": p.stat().st_size} for fid, p in paths.items()}
        if as_json:
            emit_json(
                {"vendor": vendor, "households": households, "seed": seed, "traps": traps, "files": files}
            )
        else:
            for fid, f in files.items():
                stdout.print(f"{fid}: {f['path']} ({f['bytes']:,} bytes)")
        return OK

    run()
