"""看板浏览 / the inspection report's section on dashboard views in Superset (issue #16): the use of the
figures where it happens, against the old system's 2018 baseline of 450 opens a year."""

from laiou_assets.access import DISTRICT_PREFIX
from laiou_assets.codes import current_district_names
from laiou_assets.usage import BASELINE_2018_OPENS_PER_YEAR
from ops_checks.report_files import Section

# laiou's Superset roles (laiou_assets/superset/app/provision.py) as the report names them.
READERS = {
    "laiou_office": "办公室 office",
    "laiou_commission": "委办 commission",
    "laiou_data_team": "数据组 data team",
    "Admin": "管理员 administrator",
}


def reader(roles: str) -> str:
    """Superset roles of a user (`laiou_district_310101`, …) in the office's words (黄浦区 district)."""
    names = current_district_names()
    said = []
    for role in roles.split(", "):
        code = role.removeprefix(DISTRICT_PREFIX)  # Superset's district roles are named as PostgreSQL's
        said.append(f"{names.get(code, code)} district" if code != role else READERS.get(role, role))
    return ", ".join(said)


def dashboard_views_section(views: list[tuple] | None, made_in: str, baseline_month: float) -> Section:
    title = "看板浏览 / Dashboard views in Superset"
    if views is None:
        return Section(
            title, ["未接入 / Not measured: Superset is not set up on this warehouse's server (docs/bi.md)."]
        )
    month_views = sum(n for m, *_, n in views if m == made_in)
    readers = sorted({role for m, role, _, _ in views if m == made_in})
    text = [
        f"{made_in} 看板浏览 {month_views:,} 次 / Dashboard views in {made_in}, the calendar month this report was "
        f"made in: {month_views:,}"
        + (f" by {len(readers)} kinds of reader" if readers else "")
        + f", against the 2018 baseline of {BASELINE_2018_OPENS_PER_YEAR} opens of the old system a year "
        f"({baseline_month:g} a month). A view is one dashboard opened in a browser, as Superset logs it."
    ]
    rows = [[m, reader(role), dashboard, n] for m, role, dashboard, n in views]
    return Section(title, text, ["month 月份", "reader 读者", "dashboard 看板", "views 浏览"], rows)
