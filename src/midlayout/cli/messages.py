"""Terminal messages in English or Japanese: `MIDLAYOUT_LANG=ja` (no locale sniffing).

Only what a clerk reads on the terminal is translated: error lines, run summaries and the rejects table.
Outputs stay in one language (English) whatever the setting: `rejects.message`, rule ids, manifests and `--json`,
so that a run's files do not depend on where it ran.

>>> t("rejected")  # with MIDLAYOUT_LANG unset
'rejected'
"""

from __future__ import annotations

import os
import re

JA: dict[str, str] = {
    # convert / validate summary
    "input": "入力",
    "read": "読込",
    "written": "出力",
    "rejected": "リジェクト",
    "rejects by rule": "規則別のリジェクト",
    "stage": "段階",
    "rule": "規則",
    "count": "件数",
    "validate {ref}": "検査 {ref}",
    "convert": "変換",
    "manifest: {path}  (records read = written + rejected: checked)": (
        "マニフェスト: {path}（読込件数 = 出力件数 + リジェクト件数：確認済み）"
    ),
    "records read = written + rejected: checked (no --out: nothing kept)": (
        "読込件数 = 出力件数 + リジェクト件数：確認済み（--out なし：何も保存していません）"
    ),
    "warning: reference not checked (its target is not in this run): {ref}": (
        "警告: 参照を検査していません（参照先がこの実行にありません）: {ref}"
    ),
    # run summary
    "entry": "エントリ",
    "status": "状態",
    "outputs": "出力形式",
    "job {id}": "ジョブ {id}",
    "job manifest: {path}  status: {status}  exit code: {code}": (
        "ジョブマニフェスト: {path}  状態: {status}  終了コード: {code}"
    ),
    # verify, rejects-report
    "{ok} of {n} files match": "{n} ファイル中 {ok} が一致",
    "; {bad} do not": "、{bad} が不一致",
    "{rows} rejects in {records} records; wrote {out}": "{records} レコードに {rows} 件のリジェクト。{out} を書き出しました",
    # errors
    "error:": "エラー:",
    "warning:": "警告:",
}

# Phrases of error messages (the library's messages are English); the longest first.
JA_PHRASES: list[tuple[str, str]] = sorted(
    [
        ("internal error", "内部エラー"),
        ("input file not found", "入力ファイルがありません"),
        ("manifest not found", "マニフェストがありません"),
        ("mapping file not found", "マッピングファイルがありません"),
        ("code map file not found", "コード対応表のファイルがありません"),
        ("unknown layout", "不明なレイアウト"),
        ("unknown key", "不明なキー"),
        ("did you mean", "もしかして"),
        ("allowed:", "使えるもの:"),
        ("missing key(s)", "キーがありません"),
        ("expected a mapping", "マッピング（キーと値）が必要です"),
        ("expected a list", "リストが必要です"),
        ("expected a string", "文字列が必要です"),
        ("must not be empty", "空にできません"),
        ("unknown writer", "不明な出力形式"),
        ("unknown op", "不明な操作"),
        ("(set MIDLAYOUT_DEBUG=1 for a traceback)", "（トレースバックは MIDLAYOUT_DEBUG=1 で表示）"),
    ],
    key=lambda p: -len(p[0]),
)


# The location words of an error line (errors.Location): "record 5, byte 300, field 氏名".
LOCATION = [
    (re.compile(r"\brecord (\d+)"), r"レコード \1"),
    (re.compile(r"\bbyte (\d+)"), r"バイト位置 \1"),
    (re.compile(r"\bfield (\S)"), r"項目 \1"),
]


def japanese() -> bool:
    """True when terminal messages should be Japanese (`MIDLAYOUT_LANG=ja`)."""
    return os.environ.get("MIDLAYOUT_LANG", "").lower() in ("ja", "ja_jp", "japanese")


def t(template: str, **values: object) -> str:
    """`template` (English) in the terminal language, with `values` filled in."""
    text = JA.get(template, template) if japanese() else template
    return text.format(**values) if values else text


def error_text(message: str) -> str:
    """An error message for the terminal: known phrases in Japanese under `MIDLAYOUT_LANG=ja`."""
    if not japanese():
        return message
    for english, ja in JA_PHRASES:
        message = message.replace(english, ja)
    for pattern, ja in LOCATION:
        message = pattern.sub(ja, message)
    return message
