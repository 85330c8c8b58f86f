"""Vendor B extracts: person.csv and household.csv, UTF-8 with BOM (or CP932), every field quoted, CRLF."""

from __future__ import annotations

import random
from pathlib import Path

from midlayout.layout.bundled import bundled_source
from midlayout.layout.source import SourceFile, SourceLayout, load_source
from midlayout.synth import traps as tr
from midlayout.synth.model import Household, Person, World
from midlayout.synth.output import AtomicFiles
from midlayout.synth.parallel import STATE, Job, init_worker, ordered_map, plan
from midlayout.synth.pools import build_pools, full_width
from midlayout.synth.vendor_a import CHUNK, Chunk, Result, write_chunks
from midlayout.synth.wareki import dotted

SOURCE = bundled_source("vendor_b")  # mappings/vendor_b/source.yaml, shipped in the package
SOURCE_CP932 = SOURCE.with_name("source-cp932.yaml")
FILES = {"person": "person.csv", "household": "household.csv"}
BOM = b"\xef\xbb\xbf"
ENCODINGS = ("utf-8-sig", "cp932")
SEX = {"M": "男", "F": "女"}
ZOKU = {
    "head": "世帯主",
    "wife": "妻",
    "husband": "夫",
    "child": "子",
    "father": "父",
    "mother": "母",
    "grandchild": "孫",
    "lodger": "同居人",
}
JOTAI = {"resident": "住民", "moved_out": "転出", "dead": "死亡", "erased": "消除"}
# Always present (valid data): 方書 values that need CSV quoting.
KATAGAKI_COMMA = "ソレイユ能見台, １０２号室"
KATAGAKI_NEWLINE = "コーポ山田\n２０３号室"


def csv_line(values: list[str]) -> str:
    """One CSV record: every field quoted, quotes doubled, CRLF."""
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\r\n"


class Renderer:
    """Turns model households into vendor B CSV lines, in the column order of the source layout."""

    def __init__(self, layout: SourceLayout, seed: int, chunk: int = 0) -> None:
        self.person_file, self.household_file = layout.file("person"), layout.file("household")
        self.rng = random.Random(f"{seed}:{chunk}:vendor_b")

    @staticmethod
    def header(src: SourceFile) -> str:
        """The header row with the layout's column names."""
        return csv_line([f.column for f in src.fields])

    def zip(self, h: Household) -> str:
        """The postcode, in full-width digits in about 5% of rows."""
        return full_width(h.zip) if self.rng.random() < 0.05 else h.zip

    def person(self, p: Person, h: Household) -> str:
        """One person.csv row."""
        values = {
            "jumin_code": p.atena,
            "setai_code": p.setai,
            "juni": str(p.juni),
            "shimei": p.name,
            "kana": p.kana,
            "kyushi": p.kyushi,
            "seibetsu": SEX[p.sex],
            "birth": dotted(p.birth, p.day_unknown),
            "zokugara": ZOKU[p.role],
            "kubun": "外国人" if p.foreign else "日本人",
            "jotai": JOTAI[p.jotai],
            "zip": self.zip(h),
            "address": h.addr1 + h.addr2,
            "katagaki": h.katagaki,
        }
        if p.raw:
            values.update(p.raw)  # type: ignore[arg-type]
        return csv_line([values[f.id] for f in self.person_file.fields])

    def household(self, h: Household) -> str:
        """One household.csv row; 世帯主 is 「住民コード 氏名」 with one half-width space."""
        values = {
            "setai_code": h.setai,
            "head": f"{h.head.atena} {h.head.name}",
            "zip": self.zip(h),
            "address": h.addr1 + h.addr2,
        }
        return csv_line([values[f.id] for f in self.household_file.fields])


def _quirks(chunk: list[Household]) -> None:
    """Valid mess every run shows: 方書 with a comma and with a newline, a full-width 郵便番号, a 不詳 day."""
    for h, katagaki in zip(chunk, (KATAGAKI_COMMA, KATAGAKI_NEWLINE), strict=False):
        h.katagaki = katagaki
    if len(chunk) > 4:
        chunk[2].zip = full_width(chunk[2].zip)
        head = chunk[4].head
        head.birth, head.day_unknown = head.birth.replace(day=1), True


def _render(r: Renderer, chunk: list[Household], encoding: str = "utf-8") -> Chunk:
    """The CSV bytes of one chunk, row counts, and trap notes numbered within the chunk."""
    people, homes, notes = [], [], []
    for h in chunk:
        if not h.drop:
            homes.append(r.household(h))
        for p in h.members:
            people.append(r.person(p, h))
            if p.trap:
                notes.append(tr.TrapNote(FILES["person"], len(people), p.trap))
    data = {"person": "".join(people).encode(encoding), "household": "".join(homes).encode(encoding)}
    return data, {FILES["person"]: len(people), FILES["household"]: len(homes)}, notes


def make_chunk(job: Job) -> Chunk:
    """Build and render one chunk of households."""
    world = World(job.seed, STATE["pools"], job.chunk, job.chunk_size)
    households = world.households(job.size, tr.B_ROLES if job.traps else {})
    if job.chunk == 0:
        _quirks(households)
    if job.traps:
        tr.apply_b(households)
    return _render(Renderer(STATE["layout"], job.seed, job.chunk), households, STATE.get("codec", "utf-8"))


def write(
    out_dir: Path,
    households: int,
    seed: int,
    traps: bool = False,
    source: Path = SOURCE,
    workers: int | None = None,
    chunk_size: int = CHUNK,
    encoding: str = "utf-8-sig",
) -> Result:
    """Generate person.csv and household.csv in `out_dir` and report where traps went.

    `encoding` is "utf-8-sig" (the vendor's export: BOM) or "cp932" (no BOM; convert it with
    mappings/vendor_b/juki-2.5-cp932.yaml). The rows are the same; only the bytes differ.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown vendor B encoding {encoding!r}; expected one of {ENCODINGS}")
    if traps and min(households, chunk_size) < tr.B_MIN_HOUSEHOLDS:
        raise ValueError(f"traps need at least {tr.B_MIN_HOUSEHOLDS} households in the first chunk")
    layout = load_source(source)
    jobs = plan(households, seed, traps, chunk_size)
    with AtomicFiles(out_dir, FILES) as files:
        for fid in FILES:
            header = Renderer.header(layout.file(fid))
            files.write(
                fid, BOM + header.encode("utf-8") if encoding == "utf-8-sig" else header.encode(encoding)
            )
        chunks = ordered_map(make_chunk, jobs, init_worker, (source, build_pools(seed), encoding), workers)
        notes = write_chunks(files, chunks)
    return Result(files.paths, notes)
