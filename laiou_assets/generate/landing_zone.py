"""Generate a landing zone of all four feeds (feeds.md) for Shanghai enterprises, vectorised with numpy.

The population: Shanghai enterprises registered since 2000, some controlled from other provinces
(来沪), some from Shanghai, Hong Kong/Macau/Taiwan or abroad, some by national-level (100000)
enterprises, some with an unknown investor region; branches of out-of-province and Shanghai companies;
shareholder lists that change; enterprises that exit; monthly tax vouchers with refunds; YTD statistics
for an above-designated-size subset. The first delivered month carries every enterprise that already
existed (the initial exchange), later months what was registered, changed or closed in them.

The same arguments and seed give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets.generate.deliveries import FEED_SOURCES, Deliveries, Progress
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.feed_rows import investor_rows, tax_rows, taxpayer_ids
from laiou_assets.generate.population import (
    Ids,
    draw_population,
    month_period,
)
from laiou_assets.generate.weights import (
    LAIOU_CUMULATIVE_2018,
    LAIOU_NEW_2018,
    SEED_ENTERPRISES,
    STATS_MISSING_SHARE,
)
from laiou_assets.generate.writer import dates, money


@dataclass
class GeneratorConfig:
    first_month: str  # YYYY-MM
    last_month: str
    enterprises: int
    seed: int = 20181231
    since: str = "2000-01-01"  # earliest registration date
    share_registered_before: float = 0.6  # of enterprises registered before the first month
    laiou_share: float = 0.42  # of enterprises 来沪 (direct or branch) when there are no exact targets
    # Exact 来沪 figures (R11) for the last month's year: (cumulative at its 31 Dec, new in it).
    laiou_targets: tuple[int, int] | None = None
    activity_from: str | None = None  # first month with tax and statistics deliveries (default: first_month)

    @classmethod
    def seed_scale(cls, scale: float, seed: int = 20181231) -> GeneratorConfig:
        """History from 2010-01 to 2018-12 reproducing the 2018 report × scale; tax and statistics for 2018."""
        if not 0 < scale <= 1:
            raise ValueError(f"--scale {scale}: give a share of the seed scale in (0, 1]")
        return cls(
            "2010-01",
            "2018-12",
            round(SEED_ENTERPRISES * scale),
            seed=seed,
            share_registered_before=0.3,
            laiou_targets=(round(LAIOU_CUMULATIVE_2018 * scale), round(LAIOU_NEW_2018 * scale)),
            activity_from="2018-01",
        )


def generate(
    out: Path,
    cfg: GeneratorConfig,
    progress: Callable[[str], None] = print,
    faults: FaultPlan | None = None,
    sidecar: Path | None = None,
) -> dict:
    """Write the landing zone `out`, and beside it (`sidecar`, default `<out>.sidecar`) what a test needs
    to know: each file's format, the first deliveries of corrected months and every injected fault."""
    rng = np.random.default_rng(cfg.seed)
    extra = np.random.default_rng([cfg.seed, 1])  # the features added later draw from their own stream
    ids = Ids()
    months = np.arange(np.datetime64(cfg.first_month, "M"), np.datetime64(cfg.last_month, "M") + 1)
    if len(months) == 0:
        raise ValueError(f"--from {cfg.first_month} is after --to {cfg.last_month}")
    activity_from = np.datetime64(cfg.activity_from or cfg.first_month, "M")
    n = cfg.enterprises
    progress(f"generating {n:,} enterprises, {len(months)} months ({cfg.first_month} … {cfg.last_month})")

    pop = draw_population(rng, extra, ids, cfg, months)

    summary = {"enterprises": pop.n, "months": len(months), "laiou": int(pop.laiou.sum())}
    sidecar = sidecar or out.parent / f"{out.name}.sidecar"
    deliveries = Deliveries(out, sidecar, cfg.seed, faults or FaultPlan())
    tax_months = months[months >= activity_from]
    corrected_tax_month = tax_months[-2] if len(tax_months) >= 2 else None  # at least one correction
    rows = dict.fromkeys(FEED_SOURCES, 0)
    bar = Progress(progress, len(months))
    for j, m in enumerate(months):
        period = month_period(m)
        m_start = m.astype("datetime64[D]")
        m_end = (m + 1).astype("datetime64[D]") - 1
        parts = {}

        sel = pop.ent_spec["month"] == m
        idx = pop.ent_spec["idx"][sel]
        parts["saic_enterprise"] = pd.DataFrame(
            {
                "uscc": pop.uscc[idx],
                "reg_no": pop.reg_no[idx],
                "name": pop.names[idx],
                "ent_type": pop.ent_type[idx],
                "parent_uscc": pop.parent[idx],
                "reg_date": dates(pop.reg_date[idx]),
                "district_code": pop.district_recorded[idx],
                "industry_code": pop.industry[idx],
                "reg_capital": money(pop.capital_cents[idx]),
                "status": pop.ent_spec["status"][sel],
                "status_date": dates(pop.ent_spec["status_date"][sel]),
                "record_date": dates(pop.ent_spec["record_date"][sel]),
                "_cents": pop.capital_cents[idx],
            }
        )
        lsel = np.flatnonzero(pop.list_month == m)
        parts["saic_shareholder"] = investor_rows(
            rng,
            extra,
            ids,
            pop.list_owner[lsel],
            pop.list_date[lsel],
            pop.list_initial[lsel],
            pop.list_laiou[lsel],
            pop.uscc,
            pop.capital_cents,
            pop.largest_owner,
        )
        if m >= activity_from:
            parts["tax_payment"] = tax_rows(rng, m, pop.reg_date, pop.exits, pop.exit_date, pop.capital_cents, pop.uscc)
            parts["tax_payment"]["taxpayer_id"] = taxpayer_ids(
                extra, ids, parts["tax_payment"].pop("_who").to_numpy(), pop.uscc, pop.legacy_id, pop.legacy_share
            )
            if str(m).endswith("-01") or m == activity_from:
                pop.ytd_rev[:] = 0
                pop.ytd_profit[:] = 0
            active = (pop.reg_date[pop.big] <= m_end) & ~(pop.exits[pop.big] & (pop.exit_date[pop.big] < m_start))
            monthly_rev = rng.lognormal(6.0, 1.2, len(pop.big)) * 100  # cents of 千元
            margin = rng.normal(0.06, 0.08, len(pop.big))
            pop.ytd_rev += np.where(active, np.round(monthly_rev), 0)
            pop.ytd_profit += np.where(active, np.round(monthly_rev * margin), 0)
            on = np.flatnonzero(
                active & (extra.random(len(pop.big)) >= STATS_MISSING_SHARE)
            )  # R13: some months missing
            rev_cents = pop.ytd_rev[on].astype(np.int64)
            parts["stats_indicator"] = pd.DataFrame(
                {
                    "uscc": pop.uscc[pop.big[on]],
                    "period": period,
                    "revenue_ytd": money(rev_cents),
                    "profit_ytd": money(pop.ytd_profit[on].astype(np.int64)),
                    "employees": (pop.staff[on] * (1 + 0.01 * j)).astype(np.int64).astype(str),
                    "_cents": rev_cents,
                }
            )
        for feed in FEED_SOURCES:
            part = parts.get(feed)
            if part is None:
                continue
            deliveries.write(feed, period, part, correct=(feed == "tax_payment" and m == corrected_tax_month))
            rows[feed] += len(part)
        bar.step(f"{str(m)} {sum(rows.values()):,} rows")
    for feed, count in rows.items():
        summary[f"{feed}_rows"] = count
        progress(f"  {feed}: {count:,} rows")
    summary["sidecar"] = str(deliveries.save())
    return summary
