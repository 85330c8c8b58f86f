"""Vendor A extracts: JUMIN.DAT, SETAI.DAT and ZEI.DAT as fixed-width CP932 records."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jaconv

from midlayout.layout.bundled import bundled_source
from midlayout.layout.source import SourceLayout
from midlayout.synth import traps as tr
from midlayout.synth.fixed import RecordSpec, overpunch, zoned
from midlayout.synth.model import Household, Person, World
from midlayout.synth.output import AtomicFiles
from midlayout.synth.parallel import STATE, Job, init_worker, ordered_map, plan
from midlayout.synth.pools import build_pools
from midlayout.synth.tax import NENDO, Tax, assess
from midlayout.synth.wareki import era_yymmdd

SOURCE = bundled_source("vendor_a")  # mappings/vendor_a/source.yaml, shipped in the package
FILES = {"jumin": "JUMIN.DAT", "setai": "SETAI.DAT", "kazei": "ZEI.DAT"}
CHUNK = 50_000
WIDE = ("NAME_KANJI", "KYUSHI", "ADDR1", "ADDR2", "KATAGAKI")
ZOKU = {
    "head": b"01",
    "wife": b"02",
    "husband": b"03",
    "child": b"04",
    "father": b"05",
    "mother": b"06",
    "grandchild": b"07",
    "lodger": b"09",
}
JOTAI = {"resident": b"0", "moved_out": b"1", "dead": b"2", "erased": b"9"}
IDO = {
    "tennyu": b"A1",
    "shussei": b"A2",
    "shokken_kisai": b"A3",
    "tenshutsu": b"B1",
    "shibo": b"B2",
    "shokken_shojo": b"B3",
    "tenkyo": b"C1",
    "setai_henko": b"C2",
    "shimei_henko": b"D1",
    "kyushi_kisai": b"D2",
}
AMOUNTS = ("KYUYO", "SOTOKU", "KOJO", "KAZEI", "SHIZEI", "KENZEI", "KINTO", "ZEIGAKU")
JUMIN_FIELDS = (
    "ATENA_NO",
    "SETAI_NO",
    "KISAI_JUNI",
    *WIDE,
    "NAME_KANA",
    "BIRTH",
    "SEX",
    "ZOKU",
    "SHUBETSU",
    "JOTAI",
    "ZIP",
    "IDO_CODE",
    "IDO_DATE",
)
SETAI_FIELDS = ("SETAI_NO", "HEAD_ATENA_NO", "ZIP", "ADDR1", "ADDR2", "KOSEI_DATE")
ZEI_FIELDS = ("NENDO", "ATENA_NO", "KUBUN", "CHOSHU", *AMOUNTS)
_JAN2 = date(NENDO, 1, 2)
# bytes per file id, record counts per file name, trap notes numbered within the chunk
Chunk = tuple[dict[str, bytes], dict[str, int], list[tr.TrapNote]]


@dataclass(frozen=True)
class Result:
    """Paths written, by source file id, and where each trap landed."""

    paths: dict[str, Path]
    traps: list[tr.TrapNote]


class Renderer:
    """Turns model households into vendor A record bytes; owns the rendering and tax RNGs."""

    def __init__(self, layout: SourceLayout, seed: int, chunk: int = 0) -> None:
        self.jumin_spec = RecordSpec(layout.file("jumin"), JUMIN_FIELDS, WIDE)
        self.setai_spec = RecordSpec(layout.file("setai"), SETAI_FIELDS, WIDE)
        self.zei_spec = RecordSpec(layout.file("kazei"), ZEI_FIELDS)
        self.amount_widths = tuple(self.zei_spec.widths[f] for f in AMOUNTS)
        self.nendo = zoned(NENDO, self.zei_spec.widths["NENDO"])
        self.juni_width = self.jumin_spec.widths["KISAI_JUNI"]
        self.rng = random.Random(f"{seed}:{chunk}:vendor_a")
        self.tax_rng = random.Random(f"{seed}:{chunk}:vendor_a:zei")
        self._dates: dict[bool, dict[date, bytes]] = {False: {}, True: {}}
        self._names: dict[tuple[str, ...], tuple[bytes, bytes]] = {}
        self._text_cache: dict[str, bytes] = {}

    def date(self, d: date, unknown_day: bool = False) -> bytes:
        """Era code + YYMMDD bytes, cached."""
        cache = self._dates[unknown_day]
        out = cache.get(d)
        if out is None:
            out = cache[d] = era_yymmdd(d, unknown_day).encode("ascii")
        return out

    def names(self, p: Person) -> tuple[bytes, bytes]:
        """(氏名 in CP932, 氏名カナ in half-width 「ｾｲ ﾒｲ」), cached by name."""
        key = (p.sei, p.mei, p.sei_kana, p.mei_kana)
        out = self._names.get(key)
        if out is None:
            kana = jaconv.z2h(f"{p.sei_kana} {p.mei_kana}", kana=True, ascii=True, digit=True)
            out = self._names[key] = (p.name.encode("cp932"), kana.encode("cp932"))
        return out

    def home(self, h: Household) -> dict[str, bytes]:
        """The fields every member of the household shares."""
        return {
            "SETAI_NO": h.setai.encode(),
            "ADDR1": self._text(h.addr1),
            "ADDR2": self._text(h.addr2),
            "KATAGAKI": self._text(h.katagaki),
        }

    def _text(self, s: str) -> bytes:
        out = self._text_cache.get(s)
        if out is None:
            out = self._text_cache[s] = s.encode("cp932")
        return out

    def zip(self, h: Household) -> bytes:
        """The postcode, blank in about 2% of records."""
        return b"" if self.rng.random() < 0.02 else h.zip.encode("ascii")

    def jumin(self, p: Person, h: Household, home: dict[str, bytes]) -> bytes:
        """One 300-byte JUMIN record plus CRLF."""
        name, kana = self.names(p)
        values = {
            "ATENA_NO": p.atena.encode(),
            "KISAI_JUNI": b"%0*d" % (self.juni_width, p.juni),
            "NAME_KANJI": name,
            "NAME_KANA": kana,
            "KYUSHI": p.kyushi.encode("cp932"),
            "BIRTH": self.date(p.birth, p.day_unknown),
            "SEX": p.sex.encode(),
            "ZOKU": ZOKU[p.role],
            "SHUBETSU": b"G" if p.foreign else b"J",
            "JOTAI": JOTAI[p.jotai],
            "ZIP": self.zip(h),
            "IDO_CODE": IDO[p.ido],
            "IDO_DATE": self.date(p.ido_date),
            **home,
        }
        if p.raw:
            values.update(p.raw)  # type: ignore[arg-type]
        return self.jumin_spec.pack(values, self.rng.random() < 0.1)

    def setai(self, h: Household, home: dict[str, bytes]) -> bytes:
        """One 150-byte SETAI record, no terminator."""
        values = {
            "HEAD_ATENA_NO": h.head.atena.encode(),
            "ZIP": self.zip(h),
            "KOSEI_DATE": self.date(h.kosei),
            **home,
        }
        return self.setai_spec.pack(values, self.rng.random() < 0.1)

    def zei(self, atena: str, tax: Tax) -> bytes:
        """One 120-byte ZEI record plus CRLF; amounts overpunched in about 30% of records."""
        over = self.rng.random() < 0.3
        kubun, choshu, yen = tax
        if min(yen) < 0:
            raise ValueError("clean synthetic amounts are never negative")
        digits = [b"%0*d" % wv for wv in zip(self.amount_widths, yen, strict=True)]
        if over:
            digits = [overpunch(d) for d in digits]
        values = dict(zip(AMOUNTS, digits, strict=True))
        values.update(NENDO=self.nendo, ATENA_NO=atena.encode(), KUBUN=kubun.encode(), CHOSHU=choshu.encode())
        return self.zei_spec.pack(values)

    def person_zei(self, p: Person) -> bytes | None:
        """The ZEI record of an adult living here on 1 January of the 年度, else None."""
        age = p.age()
        if age < 18 or (p.jotai != "resident" and p.ido_date < _JAN2):
            return None
        return self.zei(p.atena, assess(self.tax_rng, age))


def _render(r: Renderer, chunk: list[Household]) -> Chunk:
    """All records of one chunk: bytes per file id, record counts per file name, trap notes in the chunk."""
    jumin: list[bytes] = []
    setai: list[bytes] = []
    zei: list[bytes] = []
    notes: list[tr.TrapNote] = []
    for h in chunk:
        home = r.home(h)
        if not h.drop:
            setai.append(r.setai(h, home))
        for p in h.members:
            jumin.append(r.jumin(p, h, home))
            if p.trap:
                notes.append(tr.TrapNote(FILES["jumin"], len(jumin), p.trap))
            record = r.person_zei(p)
            if record is not None:
                zei.append(record)
        if h.extra_zei:
            zei.append(r.zei(tr.ORPHAN_ATENA, assess(r.tax_rng, 40)))
            notes.append(tr.TrapNote(FILES["kazei"], len(zei), "zei_orphan"))
    records = {"jumin": jumin, "setai": setai, "kazei": zei}
    data = {fid: b"".join(recs) for fid, recs in records.items()}
    return data, {FILES[fid]: len(recs) for fid, recs in records.items()}, notes


def make_chunk(job: Job) -> Chunk:
    """Build and render one chunk: bytes per file id, record counts per file name, trap notes."""
    world = World(job.seed, STATE["pools"], job.chunk, job.chunk_size)
    households = world.households(job.size, tr.A_ROLES if job.traps else {})
    if job.traps:
        tr.apply_a(households)
    return _render(Renderer(STATE["layout"], job.seed, job.chunk), households)


def write_chunks(files: AtomicFiles, chunks: Iterable[Chunk]) -> list[tr.TrapNote]:
    """Append each chunk's bytes in order; trap record numbers become file-wide."""
    seen: dict[str, int] = {}
    notes: list[tr.TrapNote] = []
    for data, counts, local in chunks:
        for fid, blob in data.items():
            files.write(fid, blob)
        notes += [tr.TrapNote(n.file, n.record + seen.get(n.file, 0), n.key) for n in local]
        for name, n in counts.items():
            seen[name] = seen.get(name, 0) + n
    return notes


def write(
    out_dir: Path,
    households: int,
    seed: int,
    traps: bool = False,
    source: Path = SOURCE,
    workers: int | None = None,
    chunk_size: int = CHUNK,
) -> Result:
    """Generate the three files in `out_dir` and report where traps went."""
    if traps and min(households, chunk_size) < tr.A_MIN_HOUSEHOLDS:
        raise ValueError(f"traps need at least {tr.A_MIN_HOUSEHOLDS} households in the first chunk")
    jobs = plan(households, seed, traps, chunk_size)
    with AtomicFiles(out_dir, FILES) as files:
        chunks = ordered_map(make_chunk, jobs, init_worker, (source, build_pools(seed)), workers)
        notes = write_chunks(files, chunks)
    return Result(files.paths, notes)
