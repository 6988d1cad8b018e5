"""The inspection report's table of published figures revised since their publication (marts.figure_revisions)."""

from laiou_assets import health


def revisions_table(conn) -> tuple[list[list], str]:
    """Published figures whose value changed since their latest publication (marts.figure_revisions)."""
    published = health.table_exists(conn, "marts.published_figures")
    years = (
        [y for (y,) in conn.execute("select distinct year from marts.published_figures order by 1")]
        if published
        else []
    )
    if not years:
        return [], "No year has been published (`laiou publish --year YYYY`)."
    rows = conn.execute(
        "select year, figure, member_name, published_value, current_value, change, redelivered_months "
        "from marts.figure_revisions order by year, array_position(array['summary', 'province', 'district', "
        "'industry'], dimension), member_code, measure"
    ).fetchall()
    published = ", ".join(map(str, years))
    if not rows:
        return [], f"Published years ({published}): no figure has changed since its publication."
    return [[str(year), *rest] for year, *rest in rows], (
        f"Published years ({published}): {len(rows)} figures differ from their latest publication; the deliveries "
        "loaded since that changed the data are named (marts.figure_revisions)."
    )
