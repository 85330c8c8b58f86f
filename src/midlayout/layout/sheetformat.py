"""The vocabulary of definition sheets: header synonyms, 型 and 桁数 forms, and the labels export writes.

Import is forgiving of layout (where the header row is, which synonym a column uses) and strict about
content (a 型 or 桁数 it cannot read is an error naming the cell). Export writes the first label of each
list, so that import(export(x)) reads back exactly x.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Column role → header texts (normalised: NFKC, lower case, no spaces). The first is what export writes.
ROLES: dict[str, tuple[str, ...]] = {
    "no": ("項番", "no", "no.", "番号", "項目番号", "連番"),
    "id": ("項目id", "データ項目id", "id", "項目コード", "フィールドid", "フィールド名", "cobol名"),
    "source_id": ("元id",),
    "name": ("項目名称", "項目名", "データ項目名", "データ項目名称", "名称"),
    "type": ("型", "データ型", "属性", "タイプ", "データ形式"),
    "length": ("桁数", "桁", "バイト数", "バイト長", "長さ", "サイズ", "文字数", "レングス"),
    "unit": ("単位",),
    "start": ("開始位置", "位置", "開始", "開始バイト"),
    "required": ("必須", "必須区分", "データ出力条件", "必須/任意", "出力条件"),
    "code": ("コード表", "コード", "コード一覧", "コード表id"),
    "references": ("参照", "参照先"),
    "note": ("備考", "説明", "摘要"),
}
# The header of the code-table sheet export writes (コード一覧).
CODE_COLUMNS = ("コード表", "コード表ID", "コード表名称", "桁数", "ファイル", "コード", "名称")
RULE_COLUMNS = ("ファイルID", "種類", "定義")
# Labels of header cells above a table (or of the レイアウト sheet) → layout / file attribute.
META: dict[str, str] = {
    "ファミリ": "family",
    "ファミリ名称": "family_name",
    "業務": "gyomu",
    "業務名称": "gyomu_name",
    "業務名": "gyomu_name",
    "版": "version",
    "バージョン": "version",
    "文字コード": "encoding",
    "文字集合": "repertoire",
    "出典": "provenance",
    "ファイルid": "file_id",
    "ファイル名": "file_name",
    "移行ファイル名": "file_name",
    "キー": "key",
}
TYPE_LABELS = {"string": "文字列", "number": "数値", "date": "日付", "code": "コード", "flag": "フラグ"}
UNIT_LABELS = {"bytes": "バイト", "digits": "桁", "chars": "文字"}
REQUIRED_LABEL = "必須"

_TYPES = {
    "string": (
        "文字列",
        "文字",
        "string",
        "text",
        "半角",
        "全角",
        "英数",
        "英数字",
        "カナ",
        "漢字",
        "x",
        "n",
        "g",
    ),
    "digitstring": ("数字", "数字列"),
    "number": ("数値", "number", "整数", "金額", "9", "s9", "packed", "comp-3", "パック", "zoned", "ゾーン"),
    "date": ("日付", "date", "年月日"),
    "code": ("コード", "code", "区分"),
    "flag": ("フラグ", "flag"),
}
_YES = ("必須", "○", "◯", "〇", "y", "yes", "true", "1", "要")
_NO = ("", "任意", "-", "×", "n", "no", "false", "0", "不要")
_CONDITIONAL = ("条件付き必須", "条件付必須", "条件付き", "△")


def norm(text: str) -> str:
    """Header/label text as compared: NFKC (full width → half width), lower case, no spaces or colons."""
    return re.sub(r"[\s:：]", "", unicodedata.normalize("NFKC", text)).lower()


def role_of(header: str, extra: dict[str, str] | None = None) -> str | None:
    """The role of a header cell, from `extra` (a --columns map) first, then the synonyms."""
    key = norm(header)
    if extra and key in extra:
        return extra[key]
    for role, names in ROLES.items():
        if key in names:
            return role
    return None


def length_unit_hint(header: str) -> str | None:
    """バイト数 says bytes and 文字数 says characters; 桁数 says nothing on its own."""
    key = norm(header)
    return {"バイト数": "bytes", "バイト長": "bytes", "文字数": "chars"}.get(key)


@dataclass(frozen=True)
class Length:
    """A 桁数 as written: count, the unit the form implies (None: by type), decimals, COBOL picture class."""

    count: int
    unit: str | None = None
    scale: int = 0
    picture: str = ""  # "X", "9", "N" when written as a COBOL picture


_PIC = re.compile(r"^(s?)([x9ng])\((\d+)\)(?:v9\((\d+)\))?$")


def parse_length(text: str) -> Length | None:
    """`10`, `１０`, `9(5)`, `S9(7)V9(2)`, `X(20)`, `N(10)`, `10,2`; None when it is none of these."""
    t = norm(text)
    if re.fullmatch(r"\d+", t):
        return Length(int(t))
    m = re.fullmatch(r"(\d+)[,.](\d+)", t)
    if m:
        return Length(int(m[1]), "digits", int(m[2]))
    m = _PIC.fullmatch(t)
    if m:
        cls, n, dec = m[2].upper(), int(m[3]), int(m[4] or 0)
        if cls == "X":
            return Length(n, "bytes", 0, "X")
        if cls == "9":
            return Length(n + dec, "digits", dec, "9")
        if not dec:
            return Length(n, "dbcs", 0, "N")
    return None


def parse_type(text: str) -> str | None:
    """string | digitstring | number | date | code | flag, or None."""
    t = norm(text)
    for typ, names in _TYPES.items():
        if t in names:
            return typ
    return None


def parse_required(text: str) -> tuple[bool, bool] | None:
    """(required, conditional) from 必須/任意/条件付き必須 and their marks; None when unreadable."""
    t = norm(text)
    if t in _CONDITIONAL:
        return False, True
    if t in _YES:
        return True, False
    if t in _NO:
        return False, False
    return None


def unit_of(text: str) -> str | None:
    """バイト / 桁 / 文字 (or bytes / digits / chars) → the unit."""
    t = norm(text)
    for unit, label in UNIT_LABELS.items():
        if t in (norm(label), unit):
            return unit
    return None


def derive_id(raw: str) -> str:
    """An identifier from an id that is not one (documented): NFKC, every character outside
    [A-Za-z0-9_] becomes `_`, and a leading digit gets the prefix `d` (`0010001` → `d0010001`)."""
    t = re.sub(r"[^A-Za-z0-9_]", "_", unicodedata.normalize("NFKC", raw).strip())
    return f"d{t}" if t[:1].isdigit() else t
