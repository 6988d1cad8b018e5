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

import io
import re
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from laiou_assets.access import current_districts

# Codes as the office reads them (feeds.md status codes, rules.md kinds).
STATUS_LABELS = {"1": "在营", "2": "注销", "3": "吊销", "4": "迁出"}
KIND_LABELS = {"direct": "直接", "branch": "分支", "indirect": "再投资"}
ENTERPRISES_SQL = """
select d.uscc, d.name, coalesce(i.section_name, d.industry_section), d.industry_code, d.source_province_name,
       d.laiou_kind, d.laiou_level,
       -- a parent known only as a branch's parent has no name (R15): its code says who it is
       coalesce(d.investor_name, '总公司 ' || d.investor_uscc), d.reg_date, d.status, d.laiou_since
from marts.dim_enterprise d
left join (select distinct section_code, section_name from marts.dim_industry) i on i.section_code = d.industry_section
where d.district_code = %(district)s and d.laiou_kind is not null
order by d.laiou_kind = 'indirect', d.uscc
"""
ENTERPRISE_HEADERS = [
    "统一社会信用代码 USCC",
    "企业名称 name",
    "行业门类 industry section",
    "行业代码 industry class",
    "来源省份 source province",
    "来沪类型 kind",
    "层级 level",
    "投资方 investor",
    "成立日期 registered",
    "状态 status",
    "来沪起始 laiou since",
]

# Tax of the year through the month (万元), and the month's statistics, of the district's 来沪 enterprises.
BY_SQL = """
with enterprises as (
    select uscc, {key} as key, {label} as label, laiou_kind in ('direct', 'branch') as is_headline
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
select e.key, min(e.label) as label,
       count(*) filter (where e.is_headline) as enterprises,
       count(*) filter (where not e.is_headline) as indirect,
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
    "来沪企业数 enterprises (R11)",
    "再投资企业数 indirect (R10)",
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
BOLD = Font(bold=True)


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
            book, packed = Workbook(write_only=True), io.BytesIO()
            try:
                with conn.transaction():  # a failed query must not abort the next district's
                    _fill(book, conn, month, district, names.get(district, district))
            finally:  # a write-only book's sheets are temporary files until it is saved, even half written
                book.save(packed)
            partial.write_bytes(packed.getvalue())
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


def _text_cell(sheet, value: str) -> Cell:
    """`value` (already through as_text) as a text cell, never a formula or an error."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # openpyxl makes a formula of a string beginning with "=", an error of "#N/A"
    if cell.value.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True  # Excel's leading apostrophe: stays text when the cell is edited
    return cell


class _Table:
    """A sheet of a write-only workbook (rows go to the file as they come, so a district of 200,000
    enterprises never sits in memory): a title row, a bold header row frozen and filtered, data rows with
    each column's number format, a bold total row; printed landscape, one page wide, the header on every
    page. A write-only sheet takes its widths and panes before its first row, its filter after the last."""

    def __init__(self, sheet, widths: list[int], formats: dict[str, str], title: str, headers: list[str]):
        self.sheet, self.columns, self.rows = sheet, len(widths), 0
        self.formats = {column_index_from_string(column): fmt for column, fmt in formats.items()}
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A3"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.print_title_rows = "2:2"
        self.append([title])
        self.append(headers, bold=True)

    def append(self, values: list, bold: bool = False) -> None:
        """One row; every string stored as text, never a formula, whatever it begins with."""
        cells = []
        for i, value in enumerate(values, start=1):
            fmt = self.formats.get(i) if self.rows >= 2 else None
            if isinstance(value, str):
                value = as_text(value)
                if bold or fmt or value.startswith(FORMULA_TRIGGERS) or value in ERROR_CODES:
                    cell = _text_cell(self.sheet, value)
                else:  # openpyxl stores any other string as text
                    cells.append(value)
                    continue
            elif value is None or not (bold or fmt):
                cells.append(value)
                continue
            else:
                cell = WriteOnlyCell(self.sheet, value=value)
            if bold:
                cell.font = BOLD
            if fmt:
                cell.number_format = fmt
            cells.append(cell)
        self.sheet.append(cells)
        self.rows += 1

    def total(self, values: list) -> None:
        self.append(values, bold=True)
        self.close(filtered=self.rows - 1)

    def close(self, filtered: int | None = None) -> None:
        """The header's filter over the data rows (the total row left out)."""
        self.sheet.auto_filter.ref = f"A2:{get_column_letter(self.columns)}{filtered or self.rows}"


def _fill(book: Workbook, conn, month: date, district: str, district_name: str) -> None:
    enterprises = _Table(
        book.create_sheet("来沪企业 enterprises"),
        [20, 36, 22, 10, 14, 8, 6, 30, 12, 6, 12],
        {"I": "yyyy-mm-dd", "K": "yyyy-mm-dd"},
        f"{district_name} ({district}) 来沪企业 / 来沪 enterprises, {month:%Y-%m}",
        ENTERPRISE_HEADERS,
    )
    kinds = {kind: 0 for kind in KIND_LABELS}
    with conn.cursor(name="district_enterprises") as rows:  # read from the server a batch at a time
        rows.itersize = 5000
        for row in rows.execute(ENTERPRISES_SQL, {"district": district}):
            row = list(row)
            kinds[row[5]] += 1
            row[5], row[9] = KIND_LABELS[row[5]], STATUS_LABELS.get(row[9], row[9])
            enterprises.append(row)
    headline = kinds["direct"] + kinds["branch"]
    enterprises.total(
        [
            "合计 total",
            f"{headline:,} 户来沪企业（直接 {kinds['direct']:,}，分支 {kinds['branch']:,}）；另列再投资 "
            f"{kinds['indirect']:,} 户，不计入总量（R10）",
        ]
    )
    params = {"district": district, "month": month}
    for key, label, title, header in BY.values():
        rows = conn.execute(BY_SQL.format(key=key, label=label), params).fetchall()
        by = _Table(
            book.create_sheet(title),
            [10, 20, 26, 24, 16, 26, 16],
            {"C": "#,##0", "D": "#,##0", "E": "#,##0.00", "F": "#,##0.00", "G": "#,##0"},
            f"{district_name} ({district}) {title}, {month:%Y} 年 1–{month.month} 月",
            ["代码 code", header, *MEASURE_HEADERS],
        )
        for row in rows:
            by.append([row[0], row[1], row[2], row[3], float(row[4]), float(row[5]), int(row[6])])
        totals = [sum(r[i] for r in rows) for i in (2, 3)] + [float(sum(r[i] for r in rows)) for i in (4, 5)]
        by.total(["合计 total", "", *totals, int(sum(r[6] for r in rows))])  # values, never a formula
        if rows:
            chart = BarChart()
            chart.title = f"税收(万元) tax YTD — {title}"
            chart.y_axis.title = "万元"
            chart.add_data(Reference(by.sheet, min_col=5, min_row=2, max_row=2 + len(rows)), titles_from_data=True)
            chart.set_categories(Reference(by.sheet, min_col=2, min_row=3, max_row=2 + len(rows)))
            chart.width, chart.height = 22, 10
            by.sheet.add_chart(chart, "I3")
    notes = _Table(
        book.create_sheet("说明 notes"),
        [16, 80, 16],
        {},
        f"说明 / what the figures mean ({month:%Y-%m}); every figure is read from the marts (数据集市)",
        ["名词 term", "说明 meaning", "规则 rule"],
    )
    for note in NOTES:
        notes.append(list(note))
    notes.close()


# What each sheet's figures mean, in the office's words and rules.md's rule ids.
NOTES = [
    ("来沪企业", "外省市投资者控股或相对控股的上海企业：直接来沪与分支机构，计入总量", "R7, R8, R11"),
    ("直接", "最大出资股东来自上海以外的大陆省份（一级来沪企业）", "R7"),
    ("分支", "总公司在上海以外的大陆省份的分公司", "R8"),
    ("再投资", "由来沪企业作为最大股东再投资的上海企业（二级及以下，至五级），单独列出，不计入总量", "R10"),
    ("来源省份", "直接来沪企业最大股东所在省份；分支机构总公司所在省份；再投资企业继承其上级", "R5, R7, R8, R10"),
    (
        "投资方",
        "直接来沪企业的最大股东、分支机构的总公司、再投资企业所属一级企业的投资方；无有效代码者为其他投资者",
        "R15",
    ),
    ("状态", "在营、注销、吊销、迁出（登记状态代码 1、2、3、4）", "feeds.md"),
    ("税收（万元）", "当年 1 月至本月所属期的入库税款（含退库），按企业当前来源省份、区和行业归属", "R12"),
    ("营业收入（千元）", "本月统计联网直报的本年累计营业收入", "R13"),
    ("从业人员", "本月统计联网直报的从业人员数", "R13"),
    ("合计", "各表最后一行为合计值（数值，非公式）", ""),
]
