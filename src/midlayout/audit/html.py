"""Self-contained HTML reports (inline CSS and SVG, no scripts, no network) for diff, reconcile and rejects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import midlayout

CSS = """
body{font-family:"Noto Sans CJK JP","Hiragino Sans","Yu Gothic","Meiryo",sans-serif;margin:2em;color:#222}
h1{font-size:1.5em;border-bottom:2px solid #333}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #999;padding:.25em .6em;text-align:left}
th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#060;font-weight:bold}.fail{color:#b00;font-weight:bold}.muted{color:#666;font-size:.9em}
.sign td{height:3em;min-width:12em}
"""

CLASS_LABELS = {
    "unchanged": "一致 (unchanged)",
    "changed": "変更 (changed)",
    "added": "追加 (added)",
    "removed": "削除 (removed)",
    "duplicate_key": "キー重複 (duplicate key)",
}


def page(title: str, parts: Iterable[str]) -> str:
    """A complete HTML document in Japanese, everything inline."""
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n<h1>{escape(title)}</h1>\n{body}\n"
        f'<p class="muted">midlayout {escape(midlayout.__version__)}</p></body></html>\n'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; every cell escaped, columns in `numeric` right-aligned."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=n' if i in numeric else ''}>{escape(_text(v))}</td>" for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def bar_chart(title: str, pairs: Sequence[tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG, with the figures written beside the bars."""
    if not pairs:
        return ""
    top, row_h, label_w, bar_w = max(n for _, n in pairs) or 1, 22, 260, 360
    bars = []
    for i, (label, n) in enumerate(pairs):
        y, w = i * row_h, round(bar_w * n / top)
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 6}" fill="#4a7bb7"/>'
            f'<text x="{label_w + w + 4}" y="{y + 15}">{n:,}</text>'
        )
    height = row_h * len(pairs)
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 90}" '
        f'height="{height}" font-size="13"><title>{escape(title)}</title>{"".join(bars)}</svg>'
        f"<figcaption>{escape(title)}</figcaption></figure>"
    )


def _inputs(summary: dict[str, Any]) -> str:
    rows = [
        (side, d["path"], d["kind"], d["rows"], d["sha256"])
        for side, d in (("before 移行前", summary["before"]), ("after 移行後", summary["after"]))
    ]
    return table(["", "file", "kind", "件数 rows", "sha256"], rows, numeric=(3,))


def diff_report(summary: dict[str, Any]) -> str:
    """The HTML report of a keyed diff (values as masked in `summary`)."""
    counts = summary["counts"]
    verdict = (
        '<p class="pass">差異なし (identical)</p>'
        if summary["identical"]
        else '<p class="fail">差異あり (differences found)</p>'
    )
    by_item = [(f"{c['name']} ({c['item']})", c["count"]) for c in summary["changes_by_item"]]
    samples = summary.get("samples", {"changes": [], "rows": []})
    key = summary["key"]
    parts = [
        (
            f"<p>{escape(summary['layout'])} : {escape(summary['file']['name'])} ({escape(summary['file']['id'])}) "
            f"— キー key: {escape(', '.join(key))}</p>"
        ),
        verdict,
        _inputs(summary),
        "<h2>分類別件数 (rows by class)</h2>",
        table(["分類 class", "件数 rows"], [(CLASS_LABELS[c], n) for c, n in counts.items()], numeric=(1,)),
        bar_chart("分類別件数", [(CLASS_LABELS[c], n) for c, n in counts.items()]),
        "<h2>項目別変更件数 (changes by item)</h2>",
        table(["項目名称 (item)", "件数"], by_item, numeric=(1,)) if by_item else "<p>なし (none)</p>",
        bar_chart("項目別変更件数", by_item),
        f"<h2>変更の例 (first {len(samples['changes'])} changes)</h2>",
        table(
            [*key, "項目名称", "old 変更前", "new 変更後"],
            [[*(r[k] for k in key), r["item_name"], r["old"], r["new"]] for r in samples["changes"]],
        ),
        f"<h2>追加・削除・重複の例 (first {len(samples['rows'])} rows)</h2>",
        table(
            [*key, "分類 class", "before 件数", "after 件数"],
            [
                [*(r[k] for k in key), CLASS_LABELS[r["class"]], r["n_before"], r["n_after"]]
                for r in samples["rows"]
            ],
        ),
        f"<p class=muted>options: {escape(str(summary['options']))}</p>",
    ]
    return page("差分レポート (diff report)", parts)


def reconcile_report(cert: dict[str, Any]) -> str:
    """The reconciliation certificate as a printable page with a signature block."""
    verdict = (
        '<p class="pass">照合結果: 一致 (PASS)</p>'
        if cert["passed"]
        else '<p class="fail">照合結果: 不一致 (FAIL)</p>'
    )
    rows = [
        (
            c["file"],
            c["figure"],
            c["label"],
            c["left"],
            c["right"],
            c["difference"],
            c["tolerance"],
            "合格 pass" if c["passed"] else "不合格 FAIL",
        )
        for c in cert["checks"]
    ]
    failed = [(f"{c['file']} {c['label']}", 1) for c in cert["checks"] if not c["passed"]]
    files = [(f["side"], f["path"], f["sha256"]) for f in cert["files"]]
    parts = [
        f"<p>{escape(cert['left']['label'])} ⇔ {escape(cert['right']['label'])}</p>",
        verdict,
        f"<p>照合日時 (compared at): {escape(cert['created'])}</p>",
        "<h2>照合項目 (figures compared)</h2>",
        table(
            [
                "ファイル file",
                "区分 figure",
                "項目 item",
                cert["left"]["label"],
                cert["right"]["label"],
                "差 difference",
                "許容差 tolerance",
                "判定 result",
            ],
            rows,
            numeric=(3, 4, 5),
        ),
        bar_chart("不一致の項目 (failed figures)", failed) if failed else "",
        "<h2>対象ファイル (files and sha256)</h2>",
        table(["side", "path", "sha256"], files),
        "<h2>署名 (sign-off)</h2>",
        (
            '<table class="sign"><tr><th>確認者 (auditor)</th><td></td><th>日付 (date)</th><td></td></tr>'
            "<tr><th>原課 (department)</th><td></td><th>ベンダー (vendor)</th><td></td></tr></table>"
        ),
    ]
    return page("移行データ照合証明書 (reconciliation certificate)", parts)


def rejects_report(summary: dict[str, Any]) -> str:
    """The HTML report of a rejects.parquet: counts by reason, by item and by file."""
    by_rule = [(f"{r['stage']} / {r['rule']}", r["count"]) for r in summary["by_rule"]]
    by_item = [(r["item_name"] or r["item"] or "(record)", r["count"]) for r in summary["by_item"]]
    by_file = [(r["file"], r["count"]) for r in summary["by_file"]]
    parts = [
        f"<p>{escape(summary['path'])} — sha256 {escape(summary['sha256'])}</p>",
        f"<p>エラー件数 (reject rows): {summary['rows']:,} / 対象レコード (records): {summary['records']:,}</p>",
        "<h2>理由別 (by reason)</h2>",
        table(["stage / rule", "件数"], by_rule, numeric=(1,)),
        bar_chart("理由別件数", by_rule),
        "<h2>項目別 (by item)</h2>",
        table(["項目名称 (item)", "件数"], by_item, numeric=(1,)),
        bar_chart("項目別件数", by_item),
        "<h2>ファイル別 (by file)</h2>",
        table(["file", "件数"], by_file, numeric=(1,)),
        f"<h2>明細の例 (first {len(summary['samples'])} rejects)</h2>",
        table(
            ["file", "record", "byte", "stage", "rule", "項目名称", "message"],
            [
                (
                    r["file"],
                    r["record"],
                    r["byte_offset"],
                    r["stage"],
                    r["rule"],
                    r["item_name"],
                    r["message"],
                )
                for r in summary["samples"]
            ],
        ),
    ]
    return page("検証エラーレポート (validation rejects report)", parts)
