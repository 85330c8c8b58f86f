"""Build vendor A extracts in code, field by field, from its source layout (synthetic values)."""

from __future__ import annotations

from pathlib import Path

from midlayout.layout.source import SourceFile, load_source
from tests.conftest import MAPPINGS

VENDOR_A = load_source(MAPPINGS / "vendor_a" / "source.yaml")


def record(source: SourceFile, values: dict[str, str | bytes]) -> bytes:
    """One record: each field left-aligned, space-padded to its byte width; unknown names fail."""
    buf = bytearray(b" " * source.record_length)
    for name, value in values.items():
        f = source.field(name)
        raw = value if isinstance(value, bytes) else value.encode(source.encoding)
        assert len(raw) <= f.length, (name, value)
        buf[f.start : f.start + len(raw)] = raw
    return bytes(buf)


def person(
    atena: int, setai: int, juni: int, zoku: str = "01", **extra: str | bytes
) -> dict[str, str | bytes]:
    """A valid JUMIN record's fields; override any with keyword arguments."""
    values: dict[str, str | bytes] = {
        "ATENA_NO": f"{atena:010d}",
        "SETAI_NO": f"{setai:010d}",
        "KISAI_JUNI": f"{juni:02d}",
        "NAME_KANJI": "試験\u3000太郎",
        "NAME_KANA": "ｼｹﾝ ﾀﾛｳ",
        "BIRTH": "3520401",
        "SEX": "M",
        "ZOKU": zoku,
        "SHUBETSU": "J",
        "JOTAI": "0",
        "ZIP": "100-0001",
        "ADDR1": "東京都千代田区千代田",
        "ADDR2": "１番",
        "IDO_CODE": "A1",
        "IDO_DATE": "4010401",
    }
    values.update(extra)
    return values


def household(setai: int, head: int, **extra: str | bytes) -> dict[str, str | bytes]:
    """A valid SETAI record's fields."""
    values: dict[str, str | bytes] = {
        "SETAI_NO": f"{setai:010d}",
        "HEAD_ATENA_NO": f"{head:010d}",
        "ZIP": "100-0001",
        "ADDR1": "東京都千代田区千代田",
        "ADDR2": "１番",
        "KOSEI_DATE": "4010401",
    }
    values.update(extra)
    return values


def tax(atena: int, **extra: str | bytes) -> dict[str, str | bytes]:
    """A valid ZEI record's fields (amounts as zoned decimal)."""
    values: dict[str, str | bytes] = {
        "NENDO": "2024",
        "ATENA_NO": f"{atena:010d}",
        "KUBUN": "1",
        "CHOSHU": "K",
        "KYUYO": "00005000000",
        "SOTOKU": "00003500000",
        "KOJO": "00001000000",
        "KAZEI": "00002500000",
        "SHIZEI": "0000150000",
        "KENZEI": "0000100000",
        "KINTO": "0000500{",
        "ZEIGAKU": "00000255000",
    }
    values.update(extra)
    return values


def write_vendor_a(
    folder: Path,
    people: list[dict[str, str | bytes]],
    households: list[dict[str, str | bytes]],
    taxes: list[dict[str, str | bytes]] | None = None,
) -> list[Path]:
    """JUMIN.DAT (CRLF), SETAI.DAT (no newline) and, if given, ZEI.DAT (CRLF)."""
    folder.mkdir(parents=True, exist_ok=True)
    jumin, setai, kazei = (VENDOR_A.file(n) for n in ("jumin", "setai", "kazei"))
    paths = [folder / "JUMIN.DAT", folder / "SETAI.DAT"]
    paths[0].write_bytes(b"".join(record(jumin, p) + b"\r\n" for p in people))
    paths[1].write_bytes(b"".join(record(setai, h) for h in households))
    if taxes is not None:
        paths.append(folder / "ZEI.DAT")
        paths[2].write_bytes(b"".join(record(kazei, t) + b"\r\n" for t in taxes))
    return paths
