"""看板浏览 / the inspection report's section on dashboard views in Superset (issue #16): the use of the
figures where it happens, against the old system's 2018 baseline of 450 opens a year."""

from laiou_assets.usage import BASELINE_2018_OPENS_PER_YEAR
from ops_checks.report_files import Section


def dashboard_views_section(views: list[tuple] | None, made_in: str, baseline_month: float) -> Section:
    title = "看板浏览 / Dashboard views in Superset"
    if views is None:
        return Section(title, ["Not measured: Superset is not set up on this warehouse's server (docs/bi.md)."])
    month_views = sum(n for m, *_, n in views if m == made_in)
    readers = sorted({role for m, role, _, _ in views if m == made_in})
    text = [
        f"Dashboard views in {made_in}, when this report was made: {month_views:,}"
        + (f" by {len(readers)} kinds of reader" if readers else "")
        + f", against the 2018 baseline of {BASELINE_2018_OPENS_PER_YEAR} opens of the old system a year "
        f"({baseline_month:g} a month). A view is one dashboard opened in a browser, as Superset logs it."
    ]
    rows = [[m, role, dashboard, n] for m, role, dashboard, n in views]
    return Section(title, text, ["month 月份", "role 角色", "dashboard 看板", "views 浏览"], rows)
