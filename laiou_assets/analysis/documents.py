"""The annual analysis report 《各地来沪投资企业统计分析报告（YYYY年）》 and the monthly bulletin 《来沪投资企业
月度快报》 as documents: headings, paragraphs, tables and charts, written as Word (.docx, which the office edits
and circulates) and HTML. The words are Chinese with short English labels; every number comes from figures.py.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from laiou_assets.analysis.figures import AnnualFigures, MonthlyFigures
from laiou_assets.charts import png, pyplot

LABELS = {"cumulative": "累计", "active": "在营", "new": "新增", "exited": "退出", "tax_wan": "税收（万元）"}


@dataclass
class Block:
    kind: str  # heading | paragraph | table | chart
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    image: bytes = b""


@dataclass
class Document:
    title: str
    blocks: list[Block]


def count(n) -> str:
    return f"{int(n):,}"


def wan(x) -> str:
    return f"{float(x):,.2f}"


def change(now, before) -> str:
    """Year-on-year change as a percentage, or — when there is nothing to compare with."""
    if before in (None, 0):
        return "—"
    return f"{(float(now) - float(before)) / float(before):+.1%}"


def _bars(labels: list[str], values: list[float], title: str, unit: str) -> bytes:
    plt = pyplot()
    figure, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(labels, values, color="#4f81bd")
    ax.set_title(title)
    ax.set_ylabel(unit)
    ax.tick_params(axis="x", rotation=45)
    return png(figure)


DIMENSIONS = {"summary": "全市", "province": "省份", "district": "区", "industry": "行业"}
MEASURES = {
    **LABELS,
    "reg_capital_wan": "注册资本（万元）",
    "tax_share": "税收占比",
    "revenue_k": "营业收入（千元）",
    "employees": "从业人员",
    "indirect_cumulative": "再投资累计",
}


def _value(measure: str, value) -> str:
    if value is None:
        return "—"
    if measure == "tax_share":
        return f"{float(value):.2%}"
    return wan(value) if "wan" in measure or measure.endswith("_k") else count(value)


def _revision_blocks(revisions: list[dict] | None, year: int) -> list[Block]:
    if revisions is None:
        return [Block("paragraph", f"{year}年数据尚未发布（laiou publish），无修订。Not published yet.")]
    if not revisions:
        return [Block("paragraph", f"{year}年已发布数据未因重新交付而改变。No published figure has changed.")]
    return [
        Block(
            "paragraph", f"{year}年已发布数据中有 {len(revisions)} 项因数据重新交付而修订（marts.figure_revisions）："
        ),
        Block(
            "table",
            headers=["范围 scope", "指标 measure", "发布值 published", "当前值 now", "重新交付 delivered since"],
            rows=[
                [
                    f"{DIMENSIONS[r['dimension']]} {r['member_name']}" if r["dimension"] != "summary" else "全市",
                    MEASURES.get(r["measure"], r["measure"]),
                    _value(r["measure"], r["published_value"]),
                    _value(r["measure"], r["current_value"]),
                    r["redelivered_months"],
                ]
                for r in revisions
            ],
        ),
    ]


def _tax_caveat(last_tax, year: int, month: int = 12) -> list[Block]:
    """The last tax delivery's own month is incomplete: most of a month's vouchers come with the next one."""
    if last_tax is None or (last_tax.year, last_tax.month) != (year, month):
        return []
    return [
        Block(
            "paragraph",
            f"注：税收按所属期统计。{year}年{month}月所属期的税款大多随次月数据交付，本期数据尚未到达，"
            f"{month}月税收偏低，将在次月交付后更新。Tax of the last delivered month is incomplete.",
        )
    ]


def annual_document(f: AnnualFigures, made: datetime) -> Document:
    h, p = f.headline, f.previous or {}
    blocks = [
        Block("paragraph", f"数据截至 {f.year} 年末，来源：laiou 数据集市（marts）。生成于 {made:%Y-%m-%d %H:%M}。"),
        Block("heading", "一、总体情况 Headline"),
        Block(
            "paragraph",
            f"截至{f.year}年末，全市累计来沪投资企业 {count(h['cumulative'])} 户，其中在营 {count(h['active'])} 户；"
            f"当年新增 {count(h['new'])} 户，退出 {count(h['exited'])} 户，净增 {count(h['new'] - h['exited'])} 户；"
            f"当年税收 {wan(h['tax_wan'])} 万元。另有再投资企业 {count(h['indirect_cumulative'])} 户，不计入总量。",
        ),
        *_tax_caveat(f.last_tax_delivery, f.year),
        Block(
            "table",
            headers=["指标 measure", f"{f.year}年", f"{f.year - 1}年", "同比 YoY"],
            rows=[
                [
                    LABELS[m],
                    wan(h[m]) if m == "tax_wan" else count(h[m]),
                    (wan(p[m]) if m == "tax_wan" else count(p[m])) if p else "—",
                    change(h[m], p.get(m)),
                ]
                for m in LABELS
            ],
        ),
    ]
    provinces = f.splits["province"]
    blocks += [
        Block("heading", "二、来源省份 Source provinces"),
        Block("paragraph", f"按税收排序前十位的来源省份（共 {len(provinces)} 个省份）："),
        Block(
            "table",
            headers=[
                "排名",
                "省份 province",
                "累计 cumulative",
                "在营 active",
                "税收（万元）",
                "占比 share",
                "累计同比 YoY",
            ],
            rows=[
                [
                    str(i),
                    r["name"],
                    count(r["cumulative"]),
                    count(r["active"]),
                    wan(r["tax_wan"]),
                    f"{float(r['tax_share'] or 0):.2%}",
                    change(r["cumulative"], r["cumulative_before"]),
                ]
                for i, r in enumerate(provinces[:10], 1)
            ],
        ),
        Block(
            "chart",
            image=_bars(
                [r["name"] for r in provinces[:10]],
                [float(r["tax_wan"]) for r in provinces[:10]],
                f"{f.year}年来源省份税收前十 / Tax by source province",
                "万元",
            ),
        ),
        Block("heading", "三、各区情况 Districts"),
        Block(
            "table",
            headers=["区 district", "累计 cumulative", "在营 active", "新增 new", "税收（万元）", "占比 share"],
            rows=[
                [
                    r["name"],
                    count(r["cumulative"]),
                    count(r["active"]),
                    count(r["new"]),
                    wan(r["tax_wan"]),
                    f"{float(r['tax_share'] or 0):.2%}",
                ]
                for r in f.splits["district"]
            ],
        ),
        Block("heading", "四、行业结构 Industries"),
        Block(
            "table",
            headers=["门类 section", "累计 cumulative", "在营 active", "税收（万元）", "占比 share"],
            rows=[
                [
                    r["name"] or r["code"],
                    count(r["cumulative"]),
                    count(r["active"]),
                    wan(r["tax_wan"]),
                    f"{float(r['tax_share'] or 0):.2%}",
                ]
                for r in f.splits["industry"]
            ],
        ),
        Block("paragraph", "企业数最多的十个行业大类（按国民经济行业分类代码前两位）："),
        Block(
            "table",
            headers=["大类代码 division", "门类 section", "累计企业数 enterprises"],
            rows=[[r["division"], r["section"], count(r["enterprises"])] for r in f.divisions],
        ),
    ]
    c, s = f.concentration, f.statistics
    top1 = f"{c['top1_share']:.1%}" if c.get("top1_share") is not None else "—"
    top10 = f"{c['top10_share']:.1%}" if c.get("top10_share") is not None else "—"
    blocks += [
        Block("heading", "五、税收贡献 Tax contribution"),
        Block(
            "paragraph",
            f"{f.year}年有税收的来沪企业 {count(c['enterprises'])} 户，税收合计 {wan(c['tax_wan'])} 万元；"
            f"税收最多的 1%（{count(c['top1_enterprises'])} 户）贡献 {top1}，"
            f"最多的 10%（{count(c['top10_enterprises'])} 户）贡献 {top10}。",
        ),
        Block("heading", "六、经营情况 Revenue and employees"),
        Block(
            "paragraph",
            f"报送统计数据的来沪企业全年营业收入 {wan((s['revenue_k'] or 0) / 10)} 万元，年末从业人员 "
            f"{count(s['employees'] or 0)} 人（统计联网直报，R13）。",
        ),
        Block("heading", "七、主要投资方 Investors"),
        Block(
            "table",
            headers=[
                "投资方 investor",
                "来源省份",
                "累计 cumulative",
                "在营 active",
                "覆盖区数 districts",
                "税收（万元）",
            ],
            rows=[
                [
                    r["investor_name"] or "（总公司）",
                    r["source_province_name"],
                    count(r["cumulative"]),
                    count(r["active"]),
                    count(r["districts_active"]),
                    wan(r["tax_wan"]),
                ]
                for r in f.investors
            ],
        ),
        Block("paragraph", "各区当前在营来沪企业最多的投资方："),
        Block(
            "table",
            headers=["区 district", "投资方 investor", "在营企业数 enterprises"],
            rows=[
                [r["district_name"], r["investor_name"] or "（总公司）", count(r["enterprises"])]
                for r in f.investors_by_district
            ],
        ),
        Block("heading", "八、修订说明 Revisions"),
        *_revision_blocks(f.revisions, f.year),
    ]
    return Document(f"各地来沪投资企业统计分析报告（{f.year}年）", blocks)


def bulletin_document(f: MonthlyFigures, made: datetime) -> Document:
    m = f.month
    blocks = [
        Block("paragraph", f"数据月份 {m:%Y-%m}，来源：laiou 数据集市（marts）。生成于 {made:%Y-%m-%d %H:%M}。"),
        Block("heading", "一、本月概况 This month"),
        Block(
            "paragraph",
            f"{m.year}年{m.month}月新增来沪投资企业 {count(f.new)} 户，本年累计新增 {count(f.new_ytd)} 户；"
            f"月末全市累计 {count(f.cumulative)} 户。本月税收 {wan(f.tax_wan_month)} 万元，本年 1–{m.month} 月 "
            f"{wan(f.tax_wan_ytd)} 万元，同比 {change(f.tax_wan_ytd, f.tax_wan_ytd_before)}。",
        ),
        *_tax_caveat(f.last_tax_delivery, m.year, m.month),
        Block("heading", f"二、来源省份（1–{m.month}月）Source provinces, year to date"),
        Block(
            "table",
            headers=["省份 province", "有税企业 enterprises", "税收（万元）"],
            rows=[[r["name"], count(r["enterprises"]), wan(r["tax_wan"])] for r in f.provinces],
        ),
        Block("heading", f"三、各区（1–{m.month}月）Districts, year to date"),
        Block(
            "table",
            headers=["区 district", "有税企业 enterprises", "税收（万元）"],
            rows=[[r["name"], count(r["enterprises"]), wan(r["tax_wan"])] for r in f.districts],
        ),
        Block(
            "chart",
            image=_bars(
                [r["name"] for r in f.districts],
                [float(r["tax_wan"]) for r in f.districts],
                f"{m.year}年1–{m.month}月各区税收 / Tax by district",
                "万元",
            ),
        ),
        Block("heading", "四、修订说明 Revisions"),
        *_revision_blocks(f.revisions, m.year),
    ]
    return Document(f"来沪投资企业月度快报（{m.year}年{m.month}月）", blocks)


def to_docx(document: Document) -> bytes:
    from docx import Document as Word
    from docx.oxml.ns import qn
    from docx.shared import Cm, Mm

    word = Word()
    for section in word.sections:  # A4, as the office prints
        section.page_width, section.page_height = Mm(210), Mm(297)
    for style in ("Normal", "Title", "Heading 1"):
        font = word.styles[style].font
        font.name = "Microsoft YaHei"  # East Asian text in the font Word uses for Chinese
        word.styles[style].element.rPr.rFonts.set(qn("w:eastAsia"), "Microsoft YaHei")
    word.add_heading(document.title, level=0)
    for block in document.blocks:
        if block.kind == "heading":
            word.add_heading(block.text, level=1)
        elif block.kind == "paragraph":
            word.add_paragraph(block.text)
        elif block.kind == "table":
            table = word.add_table(rows=1, cols=len(block.headers), style="Table Grid")
            for cell, header in zip(table.rows[0].cells, block.headers, strict=True):
                cell.text = header
                cell.paragraphs[0].runs[0].bold = True
            for row in block.rows:
                for cell, value in zip(table.add_row().cells, row, strict=True):
                    cell.text = str(value)
        elif block.kind == "chart":
            word.add_picture(io.BytesIO(block.image), width=Cm(16))
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def to_html(document: Document) -> str:
    """One file that stands alone (charts inlined), for the office's intranet or an e-mail."""
    parts = [
        f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{html.escape(document.title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:3px 8px;font-size:14px}img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
    ]
    for block in document.blocks:
        if block.kind == "heading":
            parts.append(f"<h2>{html.escape(block.text)}</h2>")
        elif block.kind == "paragraph":
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif block.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in block.rows
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif block.kind == "chart":
            parts.append(f"<img alt='' src='data:image/png;base64,{base64.b64encode(block.image).decode()}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(document: Document, folder: Path, stem: str) -> tuple[Path, Path]:
    """The .docx and .html in `folder`, each written whole under a temporary name and renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"{stem}.docx", folder / f"{stem}.html"
    for path, data in zip(paths, (to_docx(document), to_html(document).encode()), strict=True):
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    return paths
