"""Chinese in every chart (issue #17): the charts draw with laiou's CJK font, and no glyph of the names they
can show (districts, provinces, industry sections, the reports' labels) is missing."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest

from laiou_assets.charts import FONT
from ops_checks.report_charts import chart_quarantine, chart_rows, chart_series

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def seed_names(seed: str, column: str) -> list[str]:
    with (SEEDS / f"{seed}.csv").open(encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


def drawn_without_missing_glyphs(draw) -> bytes:
    """Draws, failing on matplotlib's warning that a glyph is missing from every font it tried."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing from font")
        return draw()


def test_every_name_a_chart_can_show_draws_in_chinese():
    names = (
        seed_names("ref_districts", "district_name")
        + seed_names("ref_provinces", "province_name")
        + seed_names("ref_industry_sections", "section_name")
    )
    assert len(names) > 60 and FONT.stat().st_size < 4 * 2**20  # a subset, not the 16 MB font
    png = drawn_without_missing_glyphs(
        lambda: chart_series([(n, i) for i, n in enumerate(names)], "来源省份 / Provinces", "户", baseline=3.0)
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    drawn_without_missing_glyphs(lambda: chart_quarantine([["tax_payment", "非法日期 bad_date", 3]]))
    drawn_without_missing_glyphs(lambda: chart_rows({"税收入库信息": {"2018-11": 10, "2018-12": 12}}))


def test_a_glyph_outside_the_font_is_caught():
    """The check above can fail: a character beyond GB 2312 (U+4DAE) has no glyph in the shipped font."""
    with pytest.raises(UserWarning, match="missing from font"):
        drawn_without_missing_glyphs(lambda: chart_series([("龑䶮", 1)], "x", "y"))
