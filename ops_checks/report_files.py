"""A report as data (sections of text, tables and charts) and its files: Markdown and HTML rendered from the
Jinja2 templates in ops_checks/templates/, charts beside them, each file replaced whole."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from laiou_assets import settings

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Heading:
    """A row of a table that heads the rows below it (a group: the feed or mart a check belongs to)."""

    text: str


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere: a section of the report itself, or an address."""

    text: str
    href: str


@dataclass(frozen=True)
class Note:
    """A block of preformatted text with an anchor that links can point at (a runbook section)."""

    anchor: str
    title: str
    body: str


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list | Heading] = field(default_factory=list)
    chart: str | None = None  # file name under charts/
    notes: list[Note] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section]
    figures: dict
    charts: dict[str, bytes]  # file name → PNG


def reports_dir() -> Path:
    return settings.laiou_home() / "reports"


@cache
def _templates(autoescape: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell
    environment.tests["heading"] = lambda row: isinstance(row, Heading)
    environment.tests["link"] = lambda value: isinstance(value, Link)
    environment.filters["markdown"] = inline_markdown
    return environment


def mib(size: int | None) -> str:
    return f"{(size or 0) / 2**20:,.1f} MiB"


def inline_markdown(text: str) -> Markup:
    """The little Markdown the runbook and the report's sentences use, as HTML: **bold**, `code`, "- " lists
    and paragraphs; everything else escaped."""
    blocks, items = [], []
    for line in str(text).splitlines() + [""]:
        html = re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(line.strip())))
        html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
        if line.startswith("- "):
            items.append(f"<li>{html[2:]}</li>")
        elif line.startswith("  ") and items:  # a list item's wrapped line
            items[-1] = items[-1][: -len("</li>")] + f" {html}</li>"
        else:
            if items:
                blocks.append(f"<ul>{''.join(items)}</ul>")
                items = []
            if html:
                blocks.append(html)
    return Markup(
        "<br>".join(blocks)
        if len(blocks) <= 1
        else "".join(f"<p>{b}</p>" if not b.startswith("<ul>") else b for b in blocks)
    )


def cell(value) -> str:
    """A table cell: — for nothing, thousands separated, one line."""
    text = "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
    return text.replace("\n", " ")


def to_markdown(report: Report, images: dict[str, str]) -> str:
    return _templates(False).get_template("report.md.j2").render(report=report, images=images)


def to_html(report: Report) -> str:
    return _templates(True).get_template("report.html.j2").render(report=report)


def write_report(report: Report, folder: Path, stem: str) -> tuple[Path, Path, str]:
    """Markdown, HTML and charts in `folder`; returns their paths and the Markdown for the Dagster UI, whose
    charts are inlined (the UI cannot read files next to the report)."""
    (folder / "charts").mkdir(parents=True, exist_ok=True)
    for name, png in report.charts.items():
        _write(folder / "charts" / name, png)
    md_path, html_path = folder / f"{stem}.md", folder / f"{stem}.html"
    _write(md_path, to_markdown(report, {n: f"charts/{n}" for n in report.charts}).encode())
    _write(html_path, to_html(report).encode())
    inline = {n: "data:image/png;base64," + base64.b64encode(p).decode() for n, p in report.charts.items()}
    return md_path, html_path, to_markdown(report, inline)


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)  # a reader never sees half a report
