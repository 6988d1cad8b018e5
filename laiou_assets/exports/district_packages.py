"""区县数据包 / one Excel workbook per current district for a month, from the marts (issue #7).

Each workbook holds the district's 来沪 enterprises, and its tax (year to date through the month, R12) and
statistics (the month's year-to-date figures, R13) by source province and by industry section, with a
chart of each. Every figure is read from `marts`, filtered to the district, so it equals what the
district's own role sees there.

Workbooks are data, never code (issue #19): every text cell is stored as text, and one that begins like a
formula (= + - @ tab, OWASP's CSV-injection list) also gets Excel's quote prefix, so Excel neither
evaluates it nor turns it into a formula when someone edits the cell. Control characters but tab and line
feed, which a workbook cannot hold, become U+FFFD, so the name stays readable. Each district's workbook is
written on its own: one failure never keeps the others from theirs (PackagesIncomplete names it at the end).
"""

import re
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.utils import column_index_from_string, get_column_letter

from laiou_assets.access import current_districts

ENTERPRISES_SQL = """
select uscc, name, industry_section, source_province_name, laiou_kind, laiou_level, reg_date, status,
       laiou_since
from marts.dim_enterprise
where district_code = %(district)s and laiou_kind is not null
order by uscc
"""
ENTERPRISE_HEADERS = [
    "统一社会信用代码 USCC",
    "企业名称 name",
    "行业门类 industry section",
    "来源省份 source province",
    "来沪类型 kind",
    "层级 level",
    "成立日期 registered",
    "状态 status",
    "来沪起始 laiou since",
]

# Tax of the year through the month (万元), and the month's statistics, of the district's 来沪 enterprises.
BY_SQL = """
with enterprises as (
    select uscc, {key} as key, {label} as label
    from marts.dim_enterprise
    where district_code = %(district)s and laiou_kind is not null
),
tax as (
    select e.key, sum(f.amount_yuan) / 10000 as tax_wan
    from marts.fct_tax_monthly f join enterprises e using (uscc)
    where f.tax_month between date_trunc('year', %(month)s::date) and %(month)s::date
    group by e.key
),
stats as (
    select e.key, sum(s.revenue_ytd_k) as revenue_ytd_k, sum(s.employees) as employees
    from marts.fct_stats_monthly s join enterprises e using (uscc)
    where s.month = %(month)s::date
    group by e.key
)
select e.key, min(e.label) as label, count(*) as enterprises,
       coalesce(min(tax.tax_wan), 0) as tax_wan,
       coalesce(min(stats.revenue_ytd_k), 0) as revenue_ytd_k,
       coalesce(min(stats.employees), 0) as employees
from enterprises e left join tax using (key) left join stats using (key)
group by e.key
order by tax_wan desc, e.key
"""
BY = {
    "province": ("source_province_code", "source_province_name", "按来源省份 by province", "来源省份 province"),
    "industry": (
        "industry_section",
        "(select min(section_name) from marts.dim_industry i where i.section_code = industry_section)",
        "按行业 by industry",
        "行业门类 section",
    ),
}
MEASURE_HEADERS = [
    "来沪企业数 enterprises",
    "税收(万元) tax YTD",
    "营业收入(千元) revenue YTD",
    "从业人员 employees",
]


# What spreadsheet programs read as the start of a formula (OWASP, CSV injection); OWASP's CR is a control
# character here, replaced before this applies.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t")
# C0 controls but tab and LF (the workbook's XML cannot hold them, or turns CR into LF), DEL and C1
# (invisible): shown as U+FFFD, so that a reader sees something was there.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
REPLACEMENT = "\ufffd"


class PackagesIncomplete(Exception):
    """Some districts' workbooks could not be written; every other district's was."""

    def __init__(self, written: list[Path], failed: dict[str, str]):
        self.written, self.failed = written, failed
        super().__init__(
            f"{len(failed)} district package(s) not written ({len(written)} written): "
            + "; ".join(f"{district}: {why}" for district, why in failed.items())
        )


def month_folder(exports: Path, month: date) -> Path:
    return exports / f"{month:%Y%m}"


def package_path(exports: Path, month: date, district: str) -> Path:
    return month_folder(exports, month) / f"laiou_{district}_{month:%Y%m}.xlsx"


def write_district_packages(conn, month: date, exports: Path) -> list[Path]:
    """Write every current district's workbook for `month` (first day); returns the paths written, or raises
    PackagesIncomplete after trying every district. Each file is written under a temporary name and renamed,
    so a reader never sees half a workbook."""
    names = dict(conn.execute("select region_code, region_name from marts.dim_region where level = 'district'"))
    written, failed = [], {}
    for district in current_districts():
        path = package_path(exports, month, district)
        partial = path.with_suffix(".xlsx.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with conn.transaction():  # a failed query must not abort the next district's
                book = _workbook(conn, month, district, names.get(district, district))
            book.save(partial)
            partial.replace(path)
            written.append(path)
        except Exception as exc:
            failed[district] = f"{type(exc).__name__}: {exc}"[:500]
            if partial.is_file():
                partial.unlink()
    if failed:
        raise PackagesIncomplete(written, failed)
    return written


def as_text(value):
    """A value as a cell gets it: strings with control characters shown as U+FFFD; other values as they are."""
    return CONTROL_CHARACTERS.sub(REPLACEMENT, value) if isinstance(value, str) else value


def _append(sheet, values: list) -> None:
    """sheet.append, with every string stored as text: never a formula, whatever it begins with."""
    sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in values])


def _text_cell(sheet, value: str) -> Cell:
    cell = Cell(sheet, value=as_text(value))
    cell.data_type = "s"  # openpyxl makes a formula of any string beginning with "="
    if cell.value.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True  # Excel's leading apostrophe: stays text when the cell is edited
    return cell


def _workbook(conn, month: date, district: str, district_name: str) -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.title = "来沪企业 enterprises"
    _append(sheet, [f"{district_name} ({district}) 来沪企业 / 来沪 enterprises, {month:%Y-%m}"])
    _append(sheet, ENTERPRISE_HEADERS)
    for row in conn.execute(ENTERPRISES_SQL, {"district": district}):
        _append(sheet, list(row))
    _widths(sheet, [20, 36, 10, 14, 10, 6, 12, 6, 12])
    _formats(sheet, {"G": "yyyy-mm-dd", "I": "yyyy-mm-dd"})
    params = {"district": district, "month": month}
    for key, label, title, header in BY.values():
        by = book.create_sheet(title)
        _append(by, [f"{district_name} ({district}) {title}, {month:%Y} 年 1–{month.month} 月"])
        _append(by, ["代码 code", header, *MEASURE_HEADERS])
        rows = conn.execute(BY_SQL.format(key=key, label=label), params).fetchall()
        for row in rows:
            _append(by, [row[0], row[1], row[2], float(row[3]), float(row[4]), int(row[5])])
        _widths(by, [10, 18, 14, 14, 18, 14])
        _formats(by, {"C": "#,##0", "D": "#,##0.00", "E": "#,##0.00", "F": "#,##0"})  # full precision kept
        if rows:
            chart = BarChart()
            chart.title = f"税收(万元) tax YTD — {title}"
            chart.y_axis.title = "万元"
            chart.add_data(Reference(by, min_col=4, min_row=2, max_row=2 + len(rows)), titles_from_data=True)
            chart.set_categories(Reference(by, min_col=2, min_row=3, max_row=2 + len(rows)))
            chart.width, chart.height = 22, 10
            by.add_chart(chart, "H3")
    return book


def _widths(sheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _formats(sheet, formats: dict[str, str]) -> None:
    for column, number_format in formats.items():
        index = column_index_from_string(column)
        for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
            cell.number_format = number_format
