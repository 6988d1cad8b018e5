"""Headline figures as text tables (the demo and `laiou summary`)."""

from __future__ import annotations

from decimal import Decimal

import psycopg

HEADERS = [
    ("year", "年份 year"),
    ("cumulative", "累计 cumulative"),
    ("active", "存续 active"),
    ("new", "新增 new"),
    ("exited", "退出 exited"),
    ("tax_wan", "税收(万元) tax"),
]


def summary_table(conn: psycopg.Connection) -> str:
    rows = conn.execute(
        f"select {', '.join(h for h, _ in HEADERS)} from marts.mart_laiou_summary_year order by year"
    ).fetchall()
    cells = [[_format(column, value) for (column, _), value in zip(HEADERS, row, strict=False)] for row in rows]
    titles = [t for _, t in HEADERS]
    widths = [max(_width(t), *(len(c[i]) for c in cells)) if cells else _width(t) for i, t in enumerate(titles)]
    lines = [
        "来沪企业年度汇总 / 来沪 enterprises by year (marts.mart_laiou_summary_year)",
        "  ".join(_pad(t, w) for t, w in zip(titles, widths, strict=False)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=False)) for row in cells]
    return "\n".join(lines)


def _format(column: str, value) -> str:
    if column == "year":
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return " " * (width - _width(text)) + text
