"""Generate midlayout's JEF/KEIS/JIPS code tables from the jef4j mapping JSON (never edit the output by hand).

Usage: python scripts/gen_mainframe_tables.py [JEF4J_DIR] [OUT_DIR]
  JEF4J_DIR defaults to ../shared/third_party/jef4j (hidekatsu-izuno/jef4j, Apache-2.0),
  OUT_DIR to src/midlayout/text/mainframe/tables.

Each upstream entry is (code, unicode, text, options). The generator decides, mechanically and the same
way for every table, what each code decodes to and what each text encodes to:

- The decoded text is the `unicode` code point(s). When several codes decode to the same code point(s),
  the first plain one (by option rank, then code) keeps them bare, and each other one whose `text` adds
  ONE ideographic variation selector (U+E0100-U+E01EF) or one combining (semi-)voiced mark
  (U+3099/U+309A) keeps that suffix: a variant kanji is never folded onto the common one (as jef4j's
  HanyoDenshi charsets do, but only where two codes would otherwise meet).
- `encode_only` entries never decode. U+FFFD (`unmappable`) means the code exists but has no Unicode
  equivalent: it is kept as kind `x` and rejected on decode.
- A code listed twice with different decodes, when the code just below it is missing and the first entry's
  code point is the second's minus one, is an upstream typo: the first entry belongs to the code below
  (NEC JIS8 0x4E/0x5E/0x6E/0x7E, NEC EBCDIK 0xA8, Hitachi EBCDIC 0x8F). Otherwise the plain entry wins
  over a `cjk_ci` one, which wins over any other option, and `oneway` comes last; then the entry whose
  text no other code decodes to; a tie left after that makes the code ambiguous (kind `a`, rejected).
- Encoding: each decoded text encodes to the first code (in upstream order) that decodes to it and is not
  `decode_only`/`oneway`; `encode_only` entries add encodings of their own. Every other code decoding to
  an already-taken text is decode-only (kind `d`).

Kinds in the output: rt (decode and encode are inverse), d (decode only), e (encode only), x (defined
upstream without a Unicode equivalent), a (ambiguous upstream). Output: one TSV per upstream table, with
the origin, licence and the source file's sha256 in its header.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

UPSTREAM = "hidekatsu-izuno/jef4j commit 0e4e9fd7320e0b2098451c5d246fa46b7e2dce4b, src/test/resources/"
TABLES = (
    "fujitsu_jef",
    "fujitsu_ebcdic",
    "fujitsu_ebcdik",
    "fujitsu_ascii",
    "hitachi_keis78",
    "hitachi_keis83",
    "hitachi_ebcdic",
    "hitachi_ebcdik",
    "nec_jips",
    "nec_ebcdik",
    "nec_jis8",
)
_KEPT_SUFFIX = {0x3099, 0x309A}


def _is_kept_suffix(ch: str) -> bool:
    return 0xE0100 <= ord(ch) <= 0xE01EF or ord(ch) in _KEPT_SUFFIX


def base_text(entry: dict) -> str:
    """The entry's `unicode` code point(s) as text."""
    return "".join(chr(int(cp, 16)) for cp in entry["unicode"].split())


def decoded_text(entry: dict, shared: bool = True) -> str:
    """The text a code decodes to; `shared`: another code decodes to the same base (see the docstring)."""
    base = base_text(entry)
    text = entry["text"]
    if shared and len(text) == len(base) + 1 and text.startswith(base) and _is_kept_suffix(text[-1]):
        return text
    return base


def _rank(opts: set[str]) -> int:
    if not opts:
        return 0
    if opts == {"cjk_ci"}:
        return 1
    return 3 if "oneway" in opts else 2


def repair_typos(entries: list[dict]) -> list[dict]:
    """Move the first of two entries for one code to the missing code below it (see the docstring)."""
    codes = {e["code"].upper() for e in entries}
    seen: dict[str, dict] = {}
    out = []
    for e in entries:
        code = e["code"].upper()
        first = seen.get(code)
        width = len(code)
        below = f"{int(code, 16) - 1:0{width}X}"
        plain = not e["options"] and first is not None and not first["options"]
        if plain and below not in codes and int(first["unicode"], 16) + 1 == int(e["unicode"], 16):  # type: ignore[index]
            first["code"] = below  # type: ignore[index]
            codes.add(below)
        seen.setdefault(code, e)
        out.append(e)
    return out


def build(entries: list[dict]) -> list[tuple[str, str, str]]:
    """(code, text as space-separated hex code points, kind) rows, in code order."""
    entries = repair_typos([dict(e) for e in entries])
    decode: dict[str, list[dict]] = {}
    encode_only: list[dict] = []
    for e in entries:
        if "encode_only" in e["options"]:
            encode_only.append(e)
        else:
            decode.setdefault(e["code"].upper(), []).append(e)
    counts: dict[str, int] = {}
    for cands in decode.values():
        for text in {base_text(e) for e in cands}:
            counts[text] = counts.get(text, 0) + 1
    picked: dict[str, dict | None] = {}
    for code, cands in decode.items():
        if len({base_text(e) for e in cands}) == 1:
            picked[code] = cands[0]
            continue
        best = min(_rank(set(e["options"])) for e in cands)
        plain = [e for e in cands if _rank(set(e["options"])) == best]
        if len({base_text(e) for e in plain}) > 1:
            plain = [e for e in plain if counts[base_text(e)] == 1]
        picked[code] = plain[0] if len({base_text(e) for e in plain}) == 1 else None
    # Where codes now decode to the same base, the first plain one keeps the bare base (the common kanji
    # stays what every other system calls it) and each other keeps the selector/mark jef4j's `text` adds.
    first: dict[str, str] = {}
    for code, e in sorted(
        ((c, e) for c, e in picked.items() if e is not None),
        key=lambda ce: (_rank(set(ce[1]["options"])), ce[0]),
    ):
        first.setdefault(base_text(e), code)
    chosen: dict[str, tuple[str, set[str]] | None] = {
        code: None if e is None else (decoded_text(e, first[base_text(e)] != code), set(e["options"]))
        for code, e in picked.items()
    }
    encode_only_rows = [(e["code"].upper(), decoded_text(e, False)) for e in encode_only]
    rows: dict[str, tuple[str, str, str]] = {}
    taken: dict[str, str] = {}
    for code, pick in chosen.items():
        if pick is None:
            rows[code] = (code, "", "a")
            continue
        text, opts = pick
        if text == "\ufffd" or "unmappable" in opts:
            rows[code] = (code, "", "x")
        elif text in taken or opts & {"decode_only", "oneway"}:
            rows[code] = (code, text, "d")
        else:
            taken[text] = code
            rows[code] = (code, text, "rt")
    for code, text in chosen_text_for_oneway(chosen, taken, rows):
        taken[text] = code
        rows[code] = (code, text, "rt")
    extra = []
    for code, text in encode_only_rows:
        if text not in taken and text != "\ufffd":
            taken[text] = code
            extra.append((code, text, "e"))
    out = sorted(rows.values()) + extra
    return [(code, " ".join(f"{ord(ch):04X}" for ch in text), kind) for code, text, kind in out]


def chosen_text_for_oneway(chosen: dict, taken: dict[str, str], rows: dict) -> list[tuple[str, str]]:
    """`oneway`/`decode_only` codes whose text no other code encodes to round-trip after all (unique text)."""
    out = []
    for code, (_, _, kind) in rows.items():
        if kind != "d":
            continue
        text, opts = chosen[code]
        if text not in taken and "decode_only" not in opts:
            out.append((code, text))
            taken[text] = code
    return out


def render(name: str, src: Path, rows: list[tuple[str, str, str]]) -> str:
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    kinds = {k: sum(1 for r in rows if r[2] == k) for k in ("rt", "d", "e", "x", "a")}
    head = [
        f"# midlayout code table {name}: GENERATED by scripts/gen_mainframe_tables.py, do not edit.",
        f"# source: {UPSTREAM}{src.name} (sha256 {digest})",
        "# licence: Apache-2.0, see NOTICE.md and LICENSE-jef4j beside this file.",
        "# columns: code (hex) TAB text (hex code points) TAB kind (rt d e x a: see the generator)",
        "# counts: " + " ".join(f"{k}={v}" for k, v in kinds.items()),
    ]
    return "\n".join(head + ["\t".join(r) for r in rows]) + "\n"


def render_bytemap(src: Path) -> str:
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    rows = json.loads(src.read_text(encoding="utf-8"))
    head = [
        "# midlayout byte map nec_jis8_ebcdik: GENERATED by scripts/gen_mainframe_tables.py, do not edit.",
        f"# source: {UPSTREAM}{src.name} (sha256 {digest})",
        "# licence: Apache-2.0, see NOTICE.md and LICENSE-jef4j beside this file.",
        "# columns: JIS8 byte (hex) TAB EBCDIK byte (hex); JIPS(E) writes each JIPS(J) byte in EBCDIK",
    ]
    return "\n".join(head + [f"{r['jis8'].upper()}\t{r['ebcdik'].upper()}" for r in rows]) + "\n"


NOTICE = """# Mainframe code tables (generated)

The `*.tsv` files here are generated by `scripts/gen_mainframe_tables.py` from the per-code mapping
tables (JSON) of the project hidekatsu-izuno/jef4j, commit 0e4e9fd7320e0b2098451c5d246fa46b7e2dce4b,
directory `src/test/resources/`. jef4j is licensed under the Apache License, Version 2.0
(`LICENSE-jef4j` beside this file); the tables here are a derived work of its data, transformed as the
generator's docstring describes (which code decodes to which text, which text encodes to which code).
Each file names its source file and that file's sha256. Do not edit them by hand: rerun the generator.
"""


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    src = Path(argv[1]) if len(argv) > 1 else root.parent / "shared" / "third_party" / "jef4j"
    out = Path(argv[2]) if len(argv) > 2 else root / "src" / "midlayout" / "text" / "mainframe" / "tables"
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        path = src / f"{name}_mapping.json"
        rows = build(json.loads(path.read_text(encoding="utf-8")))
        (out / f"{name}.tsv").write_text(render(name, path, rows), encoding="utf-8")
    bytemap = src / "nec_jis8_ebcdik_mapping.json"
    (out / "nec_jis8_ebcdik.tsv").write_text(render_bytemap(bytemap), encoding="utf-8")
    shutil.copyfile(src / "LICENSE", out / "LICENSE-jef4j")
    (out / "NOTICE.md").write_text(NOTICE, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
