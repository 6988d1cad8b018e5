"""巡检 of a feed month's figures against its own history: the usual volume, and stable shares by
district, industry or province (a chi-square test and a total variation distance)."""

import math
import statistics
from collections.abc import Callable

from laiou_assets import codes
from ops_checks.feed_arrival import Thresholds
from ops_checks.runbook import Finding

LOADED_ROWS_SQL = """
select distinct on (period) period, rows
from audit.load_log
where feed = %(feed)s and outcome = 'loaded' and period <= %(period)s
order by period, load_id desc
"""


def volume_as_expected(conn, feed: str, partition_key: str, t: Thresholds) -> Finding:
    """Rows of the month against the median of the trailing six delivered months (at least three) and the
    median of the same month in earlier years, where those exist; a feed's first delivery is never a
    baseline."""
    history = {
        p.isoformat(): rows for p, rows in conn.execute(LOADED_ROWS_SQL, {"feed": feed, "period": partition_key})
    }
    observed = history.pop(partition_key, None)
    if history:  # a feed's first delivery is the initial exchange of the whole stock, not a month's flow
        history.pop(_first_loaded(conn, feed), None)
    facts = {"month": partition_key[:7], "observed_rows": observed, "bounds": f"{t.volume_low}× … {t.volume_high}×"}
    if observed is None:
        return Finding(True, {**facts, "note": "not loaded: see reconciles_with_manifest and delivered_on_time"})
    year, month = int(partition_key[:4]), int(partition_key[5:7])
    trailing = [history[k] for k in sorted(history) if _months_between(k, partition_key) <= 6 and k < partition_key]
    baselines = {}
    if len(trailing) >= 3:
        baselines["median_of_trailing_months"] = statistics.median(trailing)
    same_month = [rows for k, rows in history.items() if int(k[5:7]) == month and int(k[:4]) < year]
    if same_month:
        baselines["median_of_same_month_in_earlier_years"] = statistics.median(same_month)
    if not baselines:
        return Finding(True, {**facts, "note": "fewer than three earlier months: no baseline yet"})
    facts.update({k: round(v) for k, v in baselines.items()})
    problems = [
        f"{observed:,} rows is {observed / v:.2f}× the {k.replace('_', ' ')} ({v:,.0f})"
        for k, v in baselines.items()
        if v > 0 and not t.volume_low <= observed / v <= t.volume_high
    ]
    return Finding(not problems, {**facts, "problem": "; ".join(problems) or None})


def _first_loaded(conn, feed: str) -> str:
    first = conn.execute(
        "select min(period) from audit.load_log where feed = %s and outcome = 'loaded'", [feed]
    ).fetchone()[0]
    return first.isoformat() if first else ""


def _months_between(a: str, b: str) -> int:
    return (int(b[:4]) - int(a[:4])) * 12 + int(b[5:7]) - int(a[5:7])


# An enterprise's district as of the month checked, for that month and its baseline months alike: the
# shares then move only with the feed, not with enterprises moving district.
ENTERPRISE_AS_OF = """
(select distinct on (uscc) uscc, district_code
 from raw.saic_enterprise where _period <= %(as_of)s
 order by uscc, record_date desc, _period desc)
"""

# Per feed: dimension → SQL counting the records of each of %(periods)s by a raw key (mapped to a category
# in Python), in one pass over those months.
DRIFT_SQL = {
    "saic_enterprise": {
        "district": "select _period, district_code, count(*) from raw.saic_enterprise "
        "where _period = any(%(periods)s::date[]) group by 1, 2",
        "industry_section": "select _period, left(industry_code, 2), count(*) from raw.saic_enterprise "
        "where _period = any(%(periods)s::date[]) group by 1, 2",
    },
    "saic_shareholder": {
        "source_province": "select _period, left(investor_region_code, 2), count(*) from raw.saic_shareholder "
        "where _period = any(%(periods)s::date[]) and investor_country = 'CHN' and investor_region_code is not null "
        "group by 1, 2",
    },
    "tax_payment": {
        "district": f"select t._period, e.district_code, count(*) from raw.tax_payment t join {ENTERPRISE_AS_OF} e "
        "on e.uscc = t.taxpayer_id where t._period = any(%(periods)s::date[]) group by 1, 2",
    },
    "stats_indicator": {
        "district": f"select s._period, e.district_code, count(*) from raw.stats_indicator s "
        f"join {ENTERPRISE_AS_OF} e on e.uscc = s.uscc where s._period = any(%(periods)s::date[]) group by 1, 2",
    },
}


def _category(dimension: str) -> Callable[[str], str]:
    if dimension == "district":  # R2: a retired code counts as its successor
        return lambda code: codes.district_successors().get(code, code)
    if dimension == "industry_section":
        return codes.industry_section
    return lambda code: code  # source province: the first two digits of the region code


def shares_stable(conn, feed: str, partition_key: str, t: Thresholds) -> Finding:
    """Shares of the month's records by district, industry section or source province against the mean
    shares of the up to six previous loaded months (at least three): chi-square and total variation."""
    periods = [
        p.isoformat()
        for (p,) in conn.execute(
            "select distinct period from audit.load_log where feed = %s and outcome = 'loaded' and period < %s "
            "order by period desc limit 6",
            [feed, partition_key],
        )
    ]
    first = _first_loaded(conn, feed)
    periods = [p for p in periods if p != first]  # the initial exchange: stock, not flow
    facts: dict = {"month": partition_key[:7], "compared_with_months": len(periods)}
    if len(periods) < 3:
        return Finding(True, {**facts, "note": "fewer than three earlier months: no baseline yet"})
    problems, sample = [], []
    for dimension, sql in DRIFT_SQL[feed].items():
        counts = _counts(conn, sql, [partition_key, *periods], partition_key, _category(dimension))
        now = counts.get(partition_key, {})
        earlier = [counts.get(p, {}) for p in periods]
        n = sum(now.values())
        expected = _mean_shares([e for e in earlier if e])
        if n < 50 or not expected:
            facts[f"{dimension}_note"] = f"{n} records: too few to judge"
            continue
        chi2, dof, tvd = _compare(now, expected, n)
        p = _chi2_sf(chi2, dof)
        facts.update({f"{dimension}_tvd": round(tvd, 4), f"{dimension}_p_value": float(f"{p:.3g}")})
        if p < t.drift_p and tvd >= t.drift_tvd:
            problems.append(f"{dimension}: shares moved by {tvd:.0%} (p = {p:.1g})")
            moved = sorted(expected.keys() | now.keys(), key=lambda c: -abs(now.get(c, 0) / n - expected.get(c, 0)))
            sample += [
                {
                    "dimension": dimension,
                    "category": c,
                    "share_now": round(now.get(c, 0) / n, 4),
                    "share_before": round(expected.get(c, 0), 4),
                }
                for c in moved[:3]
            ]
    facts["thresholds"] = f"p < {t.drift_p} and total variation ≥ {t.drift_tvd}"
    return Finding(not problems, {**facts, "problem": "; ".join(problems) or None}, sample)


def _counts(conn, sql: str, periods: list[str], as_of: str, category: Callable[[str], str]) -> dict[str, dict]:
    """period → category → records, for the given months."""
    counts: dict[str, dict[str, int]] = {}
    for period, key, n in conn.execute(sql, {"periods": periods, "as_of": as_of}):
        month = counts.setdefault(period.isoformat(), {})
        month[category(key)] = month.get(category(key), 0) + n
    return counts


def _mean_shares(months: list[dict[str, int]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for counts in months:
        total = sum(counts.values())
        for c, k in counts.items():
            out[c] = out.get(c, 0) + k / total / len(months)
    return out


def _compare(now: dict[str, int], expected: dict[str, float], n: int) -> tuple[float, int, float]:
    """Chi-square (categories expected under 5 records pooled as one), its degrees of freedom, and the
    total variation distance between the month's shares and the expected ones."""
    tvd = 0.5 * sum(abs(now.get(c, 0) / n - expected.get(c, 0)) for c in expected.keys() | now.keys())
    cells, pooled_obs, pooled_exp = [], 0, 0.0
    for c in expected.keys() | now.keys():
        e = expected.get(c, 0) * n
        if e >= 5:
            cells.append((now.get(c, 0), e))
        else:
            pooled_obs += now.get(c, 0)
            pooled_exp += e
    if pooled_obs or pooled_exp:
        cells.append((pooled_obs, max(pooled_exp, 0.5)))  # a category never seen before still counts
    chi2 = sum((o - e) ** 2 / e for o, e in cells)
    return chi2, max(len(cells) - 1, 1), tvd


def _chi2_sf(x: float, k: int) -> float:
    """P(χ²_k ≥ x) by the Wilson–Hilferty normal approximation (ample for a 0.001 threshold)."""
    if x <= 0:
        return 1.0
    z = ((x / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))
