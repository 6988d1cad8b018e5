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

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from laiou_assets import codes
from laiou_assets.contract import FEEDS
from laiou_assets.generate.faults import (
    LATE_DAY,
    FaultPlan,
    apply_anomaly,
    break_file,
    columns_for,
    inject_row_faults,
)
from laiou_assets.generate.writer import FileFormat, dates, money, write_delivery, zfill
from laiou_assets.ingest.landing import Delivery

ALPHABET = np.array(list(codes.USCC_ALPHABET))
WEIGHTS = np.array(codes.USCC_WEIGHTS, dtype=np.int64)

# Source provinces of 来沪 investment, weighted as Shanghai's are (Jiangsu and Zhejiang far ahead).
PROVINCE_WEIGHTS = {
    "320000": 0.30,
    "330000": 0.25,
    "110000": 0.07,
    "440000": 0.06,
    "340000": 0.06,
    "370000": 0.04,
    "350000": 0.04,
    "420000": 0.025,
    "360000": 0.02,
    "410000": 0.02,
    "430000": 0.02,
    "510000": 0.02,
    "120000": 0.01,
    "130000": 0.01,
    "210000": 0.01,
    "500000": 0.01,
    "610000": 0.01,
    "140000": 0.005,
    "150000": 0.005,
    "220000": 0.005,
    "230000": 0.005,
    "450000": 0.005,
    "460000": 0.005,
    "520000": 0.005,
    "530000": 0.005,
    "620000": 0.0025,
    "650000": 0.0025,
    "640000": 0.001,
    "630000": 0.001,
    "540000": 0.001,
}
# Suburban districts are much larger than central ones.
DISTRICT_WEIGHTS = {
    "310115": 0.22,
    "310112": 0.09,
    "310114": 0.09,
    "310117": 0.08,
    "310118": 0.07,
    "310120": 0.09,
    "310113": 0.07,
    "310151": 0.08,
    "310116": 0.04,
    "310101": 0.025,
    "310104": 0.025,
    "310105": 0.02,
    "310106": 0.025,
    "310107": 0.02,
    "310109": 0.015,
    "310110": 0.02,
}
RETIRED_FOR = {"310101": "310103", "310106": "310108", "310115": "310119", "310151": "310230"}
# GB/T 4754-2017 classes weighted toward trade, business services, technology services, manufacturing.
INDUSTRY_WEIGHTS = {
    "5191": 0.10,
    "5291": 0.08,
    "5139": 0.05,
    "5179": 0.05,
    "7212": 0.08,
    "7299": 0.07,
    "7519": 0.06,
    "7520": 0.04,
    "6510": 0.05,
    "6520": 0.04,
    "3311": 0.03,
    "3490": 0.03,
    "3990": 0.03,
    "2929": 0.02,
    "4812": 0.03,
    "7010": 0.04,
    "5810": 0.03,
    "6110": 0.02,
    "7610": 0.02,
    "8090": 0.03,
    "6620": 0.02,
    "7840": 0.02,
    "7439": 0.03,
    "8710": 0.01,
    "0190": 0.01,
}
ENT_TYPE_WEIGHTS = {"1100": 0.70, "1200": 0.05, "4100": 0.07, "4500": 0.07, "2100": 0.11}
TAX_TYPE_WEIGHTS = {
    "10101": 0.40,
    "10104": 0.18,
    "10106": 0.14,
    "10109": 0.10,
    "10111": 0.08,
    "10110": 0.04,
    "10112": 0.03,
    "10102": 0.01,
    "10113": 0.02,
}
BUSINESS_TAX, BUSINESS_TAX_UNTIL = "10103", np.datetime64("2016-05-01")
# R9: enterprises registered before the USCC reform (2015-10) pay part of their vouchers under their legacy
# 15-character 税务登记号; a few vouchers carry legacy ids of taxpayers the feeds do not know.
LEGACY_UNTIL = np.datetime64("2015-10-01")
LEGACY_VOUCHER_SHARE = 0.3
UNKNOWN_LEGACY_SHARE = 0.002
TIE_SHARE = 0.05  # of investor lists with two investors or more: the largest two subscribed equally (R7)
STATS_MISSING_SHARE = 0.03  # of the monthly statistics reports that do not arrive (R13)
CORRECTED_SHARE = 0.03  # of deliveries delivered again as a correction (feeds.md)
# R10: per 50,000 enterprises, one chain of six enterprises below a direct 来沪 one (levels 2–7: the last two
# are beyond the five-level stop) and one ownership cycle of three.
CHAIN_LENGTH, CYCLE_LENGTH, CHAINS_PER = 6, 3, 50_000
FOREIGN = {"HKG": 0.5, "TWN": 0.1, "MAC": 0.05, "USA": 0.1, "JPN": 0.08, "SGP": 0.1, "DEU": 0.07}
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
WORDS = np.array(["宏达", "华信", "东方", "恒通", "汇丰", "锦程", "瑞祥", "新元", "博远", "嘉禾", "天成", "永盛"])
TRADES = np.array(["贸易", "科技", "实业", "信息技术", "商务咨询", "供应链管理", "机械", "电子"])
# Investor classes; the largest investor's class decides 来沪 (R5, R7).
OTHER_E, OTHER_P, SH_E, SH_P, FOREIGN_E, NATIONAL_E, UNKNOWN_E = range(7)
CONTROLLER_P = [0.22, 0.08, 0.40, 0.12, 0.10, 0.03, 0.05]
MINOR_P = [0.20, 0.15, 0.30, 0.30, 0.03, 0.01, 0.01]
MONTH_SEASON = np.array([1.25, 0.8, 0.95, 1.0, 1.3, 1.0, 1.1, 0.95, 0.95, 1.05, 0.9, 1.1])


# The 2018 report (rules.md R11): 来沪 enterprises cumulative at 2018-12-31 and new in 2018.
LAIOU_CUMULATIVE_2018 = 1_249_760
LAIOU_NEW_2018 = 218_473
# Shanghai enterprises the feeds carry at seed scale, 来沪 or not (an assumption: docs/generator.md).
SEED_ENTERPRISES = 3_000_000
GROWTH_PER_YEAR = 0.25  # registrations grow by e^0.25 ≈ 28 % a year within the delivered period


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


def _choice(rng, weights: dict, size: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def make_uscc(ids: np.ndarray, region6: np.ndarray, kind: str = "91") -> np.ndarray:
    """Valid USCCs (R1): kind (2 chars), region (6 digits), organisation code from ids, check char.

    The organisation code is a bijection of the id (ids below 31^9 give distinct codes).
    """
    n = len(ids)
    idx = np.zeros((n, 17), dtype=np.int64)
    idx[:, 0] = codes.USCC_ALPHABET.index(kind[0])
    idx[:, 1] = codes.USCC_ALPHABET.index(kind[1])
    regions, inverse = np.unique(region6, return_inverse=True)
    digits = np.array([[int(ch) for ch in r] for r in regions], dtype=np.int64).reshape(len(regions), 6)
    idx[:, 2:8] = digits[inverse]
    org = (ids.astype(np.int64) * 1_000_003 + 7_777_777) % (31**9)
    for pos in range(16, 7, -1):
        idx[:, pos] = org % 31
        org //= 31
    check = (31 - (idx @ WEIGHTS) % 31) % 31
    chars = ALPHABET[np.concatenate([idx, check[:, None]], axis=1)]
    return np.ascontiguousarray(chars).view("<U18").ravel()


def _days(rng, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Uniform dates in [low, high] (datetime64[D] arrays)."""
    span = (high - low).astype(np.int64)
    return low + (rng.random(len(low)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def _chars(codes: np.ndarray, start: int, stop: int) -> np.ndarray:
    """codes[i][start:stop] for an array of fixed-width strings, without a Python loop."""
    width = codes.dtype.itemsize // 4
    chars = np.ascontiguousarray(codes).view("<U1").reshape(len(codes), width)[:, start:stop]
    return np.ascontiguousarray(chars).view(f"<U{stop - start}").ravel()


def _awkward_names(rng, names: np.ndarray) -> np.ndarray:
    """Some names carry what CSV must quote: commas, double quotes, a line break (feeds.md, RFC 4180)."""
    u = rng.random(len(names))
    names = names.astype(object)
    comma, quote, newline = u < 0.005, (u >= 0.005) & (u < 0.01), (u >= 0.01) & (u < 0.011)
    names[comma] = [f"{name}(Shanghai Co., Ltd.)" for name in names[comma]]
    names[quote] = [name.replace("上海", '上海"', 1).replace("有限", '"有限', 1) for name in names[quote]]
    names[newline] = [name.replace("有限", "\n有限", 1) for name in names[newline]]
    return names.astype(str)


def _month_period(month: np.datetime64) -> str:
    """One month (datetime64[M] or [D]) → 'YYYYMM'."""
    return str(month.astype("datetime64[M]")).replace("-", "")


class _Ids:
    """Distinct organisation-code ids across every USCC the generator makes."""

    def __init__(self):
        self.next = 1

    def take(self, n: int) -> np.ndarray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


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
    ids = _Ids()
    first = np.datetime64(cfg.first_month, "M").astype("datetime64[D]")
    end = (np.datetime64(cfg.last_month, "M") + 1).astype("datetime64[D]") - 1
    months = np.arange(np.datetime64(cfg.first_month, "M"), np.datetime64(cfg.last_month, "M") + 1)
    if len(months) == 0:
        raise ValueError(f"--from {cfg.first_month} is after --to {cfg.last_month}")
    activity_from = np.datetime64(cfg.activity_from or cfg.first_month, "M")
    n = cfg.enterprises
    progress(f"generating {n:,} enterprises, {len(months)} months ({cfg.first_month} … {cfg.last_month})")

    # Enterprises ---------------------------------------------------------------------------------
    before = rng.random(n) < cfg.share_registered_before
    since = np.datetime64(cfg.since, "D")
    reg_date = np.where(
        before,
        _days(rng, np.full(n, since), np.full(n, first - 1)),
        _growing_days(rng, first, end, n),
    )
    order = np.argsort(reg_date, kind="stable")  # enterprise i registered no later than i+1
    reg_date = reg_date[order]
    ent_type = _choice(rng, ENT_TYPE_WEIGHTS, n)
    is_branch = ent_type == "2100"
    district = _choice(rng, DISTRICT_WEIGHTS, n)
    retired = np.array([RETIRED_FOR.get(d, d) for d in district])
    use_retired = (reg_date < np.datetime64("2015-01-01")) & (rng.random(n) < 0.15)
    district_recorded = np.where(use_retired, retired, district)
    # R9: a few enterprises registered before the USCC reform share an organisation code with another, so
    # their legacy taxpayer ids are ambiguous; they pay with legacy ids only.
    org_ids = ids.take(n)
    pre_reform = np.flatnonzero(reg_date < LEGACY_UNTIL)
    pairs = extra.choice(pre_reform, size=(2, min(max(2, n // 5000), len(pre_reform) // 2)), replace=False)
    pairs = pairs[:, district[pairs[0]] != district[pairs[1]]]  # another region: the USCCs stay distinct
    org_ids[pairs[1]] = org_ids[pairs[0]]
    uscc = make_uscc(org_ids, district)
    industry = _choice(rng, INDUSTRY_WEIGHTS, n)
    capital_cents = np.where(is_branch, 0, np.round(rng.lognormal(5.0, 1.4, n) * 100)).astype(np.int64)
    reg_no = np.where(
        reg_date < LEGACY_UNTIL,
        np.char.add("310", zfill(rng.integers(0, 10**12, n), 12)),
        "",
    )
    word = WORDS[rng.integers(0, len(WORDS), n)]
    trade = TRADES[rng.integers(0, len(TRADES), n)]
    suffix = np.where(is_branch, "有限公司上海分公司", "有限公司")
    names = _awkward_names(extra, np.char.add(np.char.add(np.char.add("上海", word), trade), suffix))
    # R9: the legacy 税务登记号 of enterprises registered before the reform: region + organisation code.
    legacy_id = np.char.add(district_recorded, _chars(uscc, 8, 17))
    legacy_share = np.where(reg_date < LEGACY_UNTIL, LEGACY_VOUCHER_SHARE, 0.0)
    legacy_share[pairs.ravel()] = 1.0

    exits = rng.random(n) < 0.15
    exit_date = _days(rng, reg_date + 60, reg_date + 60 + 3650)
    exits &= exit_date <= end
    exit_date = np.where(exits, exit_date, np.datetime64("NaT"))
    exit_status = np.where(exits, rng.choice(np.array(["2", "3", "4"]), size=n, p=[0.6, 0.25, 0.15]), "1")

    # Investor lists: the initial one, and for some enterprises a replacement after the first month.
    owners = np.flatnonzero(~is_branch)
    second_month = (np.datetime64(cfg.first_month, "M") + 1).astype("datetime64[D]")
    change_low = np.maximum(reg_date[owners] + 60, second_month)
    change_high = np.where(exits[owners], exit_date[owners] - 1, end)
    changes = (rng.random(len(owners)) < 0.08) & (change_low <= change_high)
    change_date = _days(rng, change_low[changes], change_high[changes])

    # Who is 来沪 now (R6–R8) and since when: reg_date, or the date a replacement list made it so.
    since_if_laiou = reg_date.copy()
    since_if_laiou[owners[changes]] = change_date
    laiou = _choose_laiou(rng, cfg, since_if_laiou, end)
    one_list = np.zeros(n, dtype=bool)
    one_list[owners[~changes]] = True
    largest_owner = _ownership_chains(extra, one_list & ~laiou, laiou & ~is_branch)

    # Branches: parent out of Shanghai when 来沪 (R8), else in Shanghai or with an invalid USCC.
    parent_kind = np.where(laiou, 0, rng.choice(np.array([1, 2]), size=n, p=[0.875, 0.125]))
    parent_prov = _choice(rng, PROVINCE_WEIGHTS, n)
    parent_region = np.where(parent_kind == 1, "310115", np.char.add(np.char.replace(parent_prov, "0000", ""), "0100"))
    parent = make_uscc(ids.take(n), parent_region)
    bad_check = np.char.add(np.char.ljust(parent, 17).astype("<U17"), "I")  # I is not in the alphabet
    parent = np.where(parent_kind == 2, bad_check, parent)
    parent = np.where(is_branch, parent, "")

    # Enterprise records: the initial exchange in the first month, registrations, exits.
    exited_before = exits & (exit_date < first)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    month0 = months[0]
    ent_spec = _concat_specs(
        _spec(
            np.flatnonzero(reg_date < first),
            status=np.where(exited_before, exit_status, "1"),
            status_date=np.where(exited_before, exit_date, nat),
            record_date=np.where(exited_before, exit_date, reg_date),
            month=np.full(n, month0),
        ),
        _spec(
            np.flatnonzero(reg_date >= first),
            status=np.full(n, "1"),
            status_date=nat,
            record_date=reg_date,
            month=reg_date.astype("datetime64[M]"),
        ),
        _spec(
            np.flatnonzero(exits & ~exited_before),
            status=exit_status,
            status_date=exit_date,
            record_date=exit_date,
            month=exit_date.astype("datetime64[M]"),
        ),
    )
    # A changed list's enterprise may start or stop being 来沪 on the replacement (R6); unchanged: as now.
    initial_laiou = laiou[owners].copy()
    initial_laiou[changes] = rng.random(int(changes.sum())) < 0.5
    list_owner = np.concatenate([owners, owners[changes]])
    list_date = np.concatenate([reg_date[owners], change_date])
    list_month = np.maximum(list_date.astype("datetime64[M]"), month0)
    list_initial = np.concatenate([np.ones(len(owners), bool), np.zeros(int(changes.sum()), bool)])
    list_laiou = np.concatenate([initial_laiou, laiou[owners[changes]]])

    big = np.flatnonzero(~is_branch & (rng.random(n) < 0.12))  # above designated size: statistics
    staff = np.maximum(1, rng.lognormal(3.5, 1.0, len(big))).astype(np.int64)
    ytd_rev = np.zeros(len(big))
    ytd_profit = np.zeros(len(big))

    summary = {"enterprises": n, "months": len(months), "laiou": int(laiou.sum())}
    sidecar = sidecar or out.parent / f"{out.name}.sidecar"
    deliveries = _Deliveries(out, sidecar, cfg.seed, faults or FaultPlan())
    tax_months = months[months >= activity_from]
    corrected_tax_month = tax_months[-2] if len(tax_months) >= 2 else None  # at least one correction
    rows = dict.fromkeys(FEED_SOURCES, 0)
    bar = _Progress(progress, len(months))
    for j, m in enumerate(months):
        period = _month_period(m)
        m_start = m.astype("datetime64[D]")
        m_end = (m + 1).astype("datetime64[D]") - 1
        parts = {}

        sel = ent_spec["month"] == m
        idx = ent_spec["idx"][sel]
        parts["saic_enterprise"] = pd.DataFrame(
            {
                "uscc": uscc[idx],
                "reg_no": reg_no[idx],
                "name": names[idx],
                "ent_type": ent_type[idx],
                "parent_uscc": parent[idx],
                "reg_date": dates(reg_date[idx]),
                "district_code": district_recorded[idx],
                "industry_code": industry[idx],
                "reg_capital": money(capital_cents[idx]),
                "status": ent_spec["status"][sel],
                "status_date": dates(ent_spec["status_date"][sel]),
                "record_date": dates(ent_spec["record_date"][sel]),
                "_cents": capital_cents[idx],
            }
        )
        lsel = np.flatnonzero(list_month == m)
        parts["saic_shareholder"] = _investor_rows(
            rng,
            extra,
            ids,
            list_owner[lsel],
            list_date[lsel],
            list_initial[lsel],
            list_laiou[lsel],
            uscc,
            capital_cents,
            largest_owner,
        )
        if m >= activity_from:
            parts["tax_payment"] = _tax_rows(rng, m, reg_date, exits, exit_date, capital_cents, uscc)
            parts["tax_payment"]["taxpayer_id"] = _taxpayer_ids(
                extra, ids, parts["tax_payment"].pop("_who").to_numpy(), uscc, legacy_id, legacy_share
            )
            if str(m).endswith("-01") or m == activity_from:
                ytd_rev[:] = 0
                ytd_profit[:] = 0
            active = (reg_date[big] <= m_end) & ~(exits[big] & (exit_date[big] < m_start))
            monthly_rev = rng.lognormal(6.0, 1.2, len(big)) * 100  # cents of 千元
            margin = rng.normal(0.06, 0.08, len(big))
            ytd_rev += np.where(active, np.round(monthly_rev), 0)
            ytd_profit += np.where(active, np.round(monthly_rev * margin), 0)
            on = np.flatnonzero(active & (extra.random(len(big)) >= STATS_MISSING_SHARE))  # R13: some months missing
            rev_cents = ytd_rev[on].astype(np.int64)
            parts["stats_indicator"] = pd.DataFrame(
                {
                    "uscc": uscc[big[on]],
                    "period": period,
                    "revenue_ytd": money(rev_cents),
                    "profit_ytd": money(ytd_profit[on].astype(np.int64)),
                    "employees": (staff[on] * (1 + 0.01 * j)).astype(np.int64).astype(str),
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


FEED_SOURCES = {
    "saic_enterprise": "上海市市场监督管理局",
    "saic_shareholder": "上海市市场监督管理局",
    "tax_payment": "国家税务总局上海市税务局",
    "stats_indicator": "上海市统计局",
}


class _Progress:
    """A progress bar on stderr when it is a terminal, else a line every tenth of the way."""

    def __init__(self, say: Callable[[str], None], total: int):
        self.say, self.total, self.done, self.shown = say, total, 0, -1
        self.tty = sys.stderr.isatty()

    def step(self, what: str) -> None:
        self.done += 1
        tenth = self.done * 10 // self.total
        if self.tty:
            filled = self.done * 30 // self.total
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {what}   ")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif tenth != self.shown:
            self.shown = tenth
            self.say(f"  {self.done * 100 // self.total:3d}% {self.done}/{self.total} months, {what}")


def _growing_days(rng, first: np.datetime64, end: np.datetime64, n: int) -> np.ndarray:
    """Dates in [first, end] with a density growing by GROWTH_PER_YEAR (inverse of its distribution)."""
    span = int((end - first).astype(np.int64)) + 1
    g = GROWTH_PER_YEAR / 365.25
    u = rng.random(n)
    offset = np.log1p(u * np.expm1(g * span)) / g
    return first + np.minimum(offset.astype(np.int64), span - 1).astype("timedelta64[D]")


def _ownership_chains(rng, candidates: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """R10: for each enterprise, the enterprise of the population that is its largest investor (-1: none chosen).

    Chains start below a direct 来沪 enterprise (a root) and run through `candidates`; cycles run through
    candidates only, so no member of a cycle can reach a 来沪 enterprise.
    """
    largest = np.full(len(candidates), -1, dtype=np.int64)
    pool, roots = np.flatnonzero(candidates), np.flatnonzero(roots)
    count = max(1, len(candidates) // CHAINS_PER)
    if len(pool) < count * (CHAIN_LENGTH + CYCLE_LENGTH) or len(roots) == 0:
        return largest
    members = rng.choice(pool, size=count * (CHAIN_LENGTH + CYCLE_LENGTH), replace=False)
    chains = members[: count * CHAIN_LENGTH].reshape(count, CHAIN_LENGTH)
    cycles = members[count * CHAIN_LENGTH :].reshape(count, CYCLE_LENGTH)
    largest[chains[:, 0]] = rng.choice(roots, size=count)
    largest[chains[:, 1:]] = chains[:, :-1]
    largest[cycles] = np.roll(cycles, -1, axis=1)
    return largest


def _choose_laiou(rng, cfg: GeneratorConfig, since_if_laiou: np.ndarray, end: np.datetime64) -> np.ndarray:
    """Which enterprises are 来沪 now: a share, or exactly the targets (cumulative, new in the last year)."""
    n = len(since_if_laiou)
    if cfg.laiou_targets is None:
        return rng.random(n) < cfg.laiou_share
    cumulative, new = cfg.laiou_targets
    year = str(end)[:4]
    in_year = np.char.startswith(np.datetime_as_string(since_if_laiou, unit="D"), year)
    this_year, earlier = np.flatnonzero(in_year), np.flatnonzero(~in_year)
    if new > len(this_year) or cumulative - new > len(earlier):
        raise ValueError(
            f"cannot make {cumulative:,} 来沪 enterprises with {new:,} new in {year} out of {n:,} enterprises "
            f"({len(this_year):,} could become 来沪 in {year}, {len(earlier):,} before): raise --enterprises"
        )
    laiou = np.zeros(n, dtype=bool)
    laiou[rng.choice(this_year, size=new, replace=False)] = True
    laiou[rng.choice(earlier, size=cumulative - new, replace=False)] = True
    return laiou


class _Deliveries:
    """Writes each delivery in its bureau's format; corrections, faults and the sidecar that records them."""

    def __init__(self, out: Path, sidecar: Path, seed: int, faults: FaultPlan):
        self.out, self.sidecar, self.seed, self.faults = out, sidecar, seed, faults
        self.record: dict = {
            "formats": {},
            "corrections": [],
            "row_fault_rates": faults.row_rates,
            "row_faults": [],
            "file_faults": [],
            "anomalies": [],
        }
        self.earlier_vouchers: np.ndarray | None = None  # the last tax month's, for the `repeated` anomaly

    def write(self, feed: str, period: str, frame: pd.DataFrame, correct: bool = False) -> None:
        rng = np.random.default_rng([self.seed, list(FEEDS).index(feed), int(period)])
        fmt = delivery_format(rng, feed)
        where = f"{feed}/{period}"
        self.record["formats"][where] = fmt.describe()
        source = FEED_SOURCES[feed]
        if (correct or rng.random() < CORRECTED_SHARE) and len(frame) > 1:
            first = _first_version(rng, frame, FEEDS[feed].control_column)
            write_delivery(
                self.sidecar / "first_deliveries", feed, period, first, first["_cents"].to_numpy(), source, fmt
            )
            self.record["corrections"].append(
                {"feed": feed, "period": period, "first_rows": len(first), "rows": len(frame)}
            )
            produced_day = 20
        else:
            produced_day = 5
        anomaly = self.faults.anomalies.get((feed, period))
        if anomaly:
            self.record["anomalies"].append({"feed": feed, "period": period, "anomaly": anomaly})
            if anomaly == "missing":
                return
            if anomaly == "late":
                produced_day = LATE_DAY
            else:
                frame = apply_anomaly(anomaly, feed, frame, rng, self.earlier_vouchers)
        if feed == "tax_payment":
            self.earlier_vouchers = frame["voucher_no"].to_numpy()
        replace = None
        cents = frame["_cents"].to_numpy()
        if self.faults.row_rates:
            frame, cents, injected, replace = inject_row_faults(frame, feed, period, self.faults.row_rates, rng)
            self.record["row_faults"] += injected
        file_fault = self.faults.file_faults.get((feed, period))
        if file_fault == "unknown_column":
            frame = frame.assign(remark="")
        csv_path = write_delivery(
            self.out, feed, period, frame, cents, source, fmt, produced_day, columns_for(file_fault, feed), replace
        )
        if file_fault:
            done = {"feed": feed, "period": period, "fault": file_fault}
            if file_fault not in ("missing_column", "unknown_column"):
                done.update(break_file(file_fault, csv_path, Delivery(feed, period).manifest_path(self.out)))
            self.record["file_faults"].append(done)

    def save(self) -> Path:
        self.sidecar.mkdir(parents=True, exist_ok=True)
        path = self.sidecar / "generated.json"
        path.write_text(json.dumps(self.record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path


def delivery_format(rng, feed: str) -> FileFormat:
    """Each bureau's exchange: tax in UTF-8 with LF; market regulation in GB18030 (30 %) or UTF-8 with BOM
    (20 %) or without, LF or CRLF; statistics in GB18030 (30 %) or UTF-8, always CRLF."""
    if feed == "tax_payment":
        return FileFormat()
    u, crlf = rng.random(), rng.random() < 0.5 or feed == "stats_indicator"
    if u < 0.3:
        return FileFormat("GB18030", crlf=crlf)
    return FileFormat(bom=u < 0.5 and feed != "stats_indicator", crlf=crlf)


def _first_version(rng, frame: pd.DataFrame, control: str) -> pd.DataFrame:
    """What a corrected month first looked like: 1 % of its records missing, 1 % with another amount."""
    keep = rng.random(len(frame)) >= 0.01
    keep[rng.integers(0, len(frame))] = False  # at least one record missing
    first = frame[keep].copy()
    changed = rng.random(len(first)) < 0.01
    first.loc[changed, "_cents"] += 100
    first.loc[changed, control] = money(first.loc[changed, "_cents"].to_numpy())
    return first


def _spec(idx: np.ndarray, **columns: np.ndarray) -> dict[str, np.ndarray]:
    return {"idx": idx, **{k: v[idx] for k, v in columns.items()}}


def _concat_specs(*specs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([s[k] for s in specs]) for k in specs[0]}


def _tax_rows(rng, m, reg_date, exits, exit_date, capital_cents, uscc) -> pd.DataFrame:
    """One month's vouchers: most active enterprises pay, a few pay several; refunds; 营业税 before 2016-05."""
    n = len(reg_date)
    m_start = m.astype("datetime64[D]")
    m_end = (m + 1).astype("datetime64[D]") - 1
    active = (reg_date <= m_end) & ~(exits & (exit_date < m_start))
    payers = np.flatnonzero(active & (rng.random(n) < 0.6))
    counts = 1 + rng.poisson(0.6, len(payers))
    who = np.repeat(payers, counts)
    k = len(who)
    season = MONTH_SEASON[int(str(m)[5:7]) - 1]
    yuan = rng.lognormal(7.2 + 0.25 * np.log1p(capital_cents[who] / 100), 1.5) * season
    cents = np.round(yuan * 100).astype(np.int64)
    refund = rng.random(k) < 0.03
    cents = np.where(refund, -np.maximum(cents // 5, 1), cents)
    types = _choice(rng, TAX_TYPE_WEIGHTS, k)
    if m_start < BUSINESS_TAX_UNTIL:
        types = np.where(rng.random(k) < 0.1, BUSINESS_TAX, types)
    same_month = rng.random(k) < 0.2
    period = _month_period(m)
    tax_period = np.where(same_month, period, _month_period(m - 1))
    return pd.DataFrame(
        {
            "voucher_no": np.char.add(f"3{period}", zfill(np.arange(k), 9)),
            "taxpayer_id": "",
            "tax_period": tax_period,
            "tax_type": types,
            "amount": money(cents),
            "paid_date": dates(_days(rng, np.full(k, m_start), np.full(k, m_end))),
            "_cents": cents,
            "_who": who,
        }
    )


def _taxpayer_ids(rng, ids, who, uscc, legacy_id, legacy_share) -> np.ndarray:
    """R9: the USCC, or for part of the pre-reform enterprises' vouchers the legacy id; a few unknown ones."""
    out = np.where(rng.random(len(who)) < legacy_share[who], legacy_id[who], uscc[who])
    unknown = np.flatnonzero(rng.random(len(who)) < UNKNOWN_LEGACY_SHARE)
    out[unknown] = np.char.add(
        "310104", _chars(make_uscc(ids.take(len(unknown)), np.full(len(unknown), "310104")), 8, 17)
    )
    return out


def _investor_rows(
    rng, extra, ids, owners, list_date, initial, laiou, uscc, capital_cents, largest_owner
) -> pd.DataFrame:
    """Complete investor lists for the given enterprises, each replacing any earlier list (feeds.md).

    `laiou` says, per list, whether its largest investor is from another mainland province (R5, R7);
    `largest_owner[e]` ≥ 0 makes enterprise e's largest investor that enterprise of the population (R10).
    """
    if len(owners) == 0:
        return pd.DataFrame(columns=[*FEEDS["saic_shareholder"].column_names, "_cents"]).astype({"_cents": np.int64})
    k = 1 + rng.binomial(3, 0.35, len(owners))
    row_owner = np.repeat(np.arange(len(owners)), k)
    first_row = np.repeat(np.cumsum(k) - k, k)
    pos = np.arange(len(row_owner)) - first_row  # 0 = the largest investor
    total = len(row_owner)
    largest = pos == 0
    # Largest holds a majority; the others split the rest.
    share_largest = np.where(k > 1, rng.uniform(0.51, 0.95, len(owners)), 1.0)
    rest = rng.random(total) + 0.05
    rest_sum = np.bincount(row_owner, weights=np.where(largest, 0, rest), minlength=len(owners))
    share = np.where(
        largest, share_largest[row_owner], (1 - share_largest[row_owner]) * rest / np.maximum(rest_sum[row_owner], 1e-9)
    )
    capital = np.maximum(capital_cents[owners], 100_00)  # 万元 × 100
    cents = np.maximum(np.round(capital[row_owner] * share), 1).astype(np.int64)
    other = np.array(CONTROLLER_P[:2]) / sum(CONTROLLER_P[:2])
    rest_p = np.array(CONTROLLER_P[2:]) / sum(CONTROLLER_P[2:])
    controller = np.where(laiou[row_owner], rng.choice(2, size=total, p=other), 2 + rng.choice(5, size=total, p=rest_p))
    klass = np.where(largest, controller, rng.choice(7, size=total, p=MINOR_P))
    parent = largest_owner[owners][row_owner]
    chained = largest & (parent >= 0)
    klass[chained] = SH_E
    # The order of the list does not follow the capital (ties and order are for R7 to sort out).
    seq = np.empty(total, dtype=np.int64)
    perm_key = row_owner * 10 + rng.random(total)
    order = np.argsort(perm_key, kind="stable")
    seq[order] = np.arange(total) - first_row[order] + 1
    # R7 ties: the second investor of some lists subscribed as much as the largest, who has the lower seq.
    tie_first = (np.cumsum(k) - k)[(k > 1) & (extra.random(len(owners)) < TIE_SHARE)]
    cents[tie_first + 1] = cents[tie_first]
    swap = tie_first[seq[tie_first] > seq[tie_first + 1]]
    seq[swap], seq[swap + 1] = seq[swap + 1], seq[swap].copy()

    person = (klass == OTHER_P) | (klass == SH_P)
    province = np.where(np.isin(klass, [OTHER_E, OTHER_P]), _choice(rng, PROVINCE_WEIGHTS, total), "310000")
    region = np.char.add(np.char.replace(province, "0000", ""), "0100")
    region_code = np.where(
        np.isin(klass, [OTHER_E, SH_E]) & (rng.random(total) < 0.65) | (person & (rng.random(total) < 0.9)),
        region,
        "",
    )
    region_code = np.where(np.isin(klass, [FOREIGN_E, NATIONAL_E, UNKNOWN_E]), "", region_code)
    region_code = np.where(largest & (klass == OTHER_P), region, region_code)  # a 来沪 person's province is known
    country = np.where(klass == FOREIGN_E, _choice(rng, FOREIGN, total), "CHN")
    inv_region = np.where(klass == NATIONAL_E, "100000", region)
    inv_uscc = make_uscc(ids.take(total), inv_region)
    # Half of the Shanghai enterprise investors are enterprises of this same population (chains, R10).
    own = np.flatnonzero((klass == SH_E) & (rng.random(total) < 0.5))
    inv_uscc[own] = uscc[rng.integers(0, len(uscc), len(own))]
    inv_uscc[chained] = uscc[parent[chained]]
    inv_uscc = np.where(person | (klass == FOREIGN_E) | (klass == UNKNOWN_E), "", inv_uscc)
    surname = SURNAMES[rng.integers(0, len(SURNAMES), total)]
    inv_name = np.where(
        person,
        np.char.add(surname, "**"),
        np.char.add(
            np.char.add(WORDS[rng.integers(0, len(WORDS), total)], TRADES[rng.integers(0, len(TRADES), total)]),
            "投资有限公司",
        ),
    )
    ld = list_date[row_owner]
    early = initial[row_owner] & (rng.random(total) < 0.15)  # invested before the registration date (R7 clamps)
    invest_date = np.where(early, ld - rng.integers(1, 400, total).astype("timedelta64[D]"), ld)
    return pd.DataFrame(
        {
            "uscc": uscc[owners][row_owner],
            "investor_seq": seq.astype(str),
            "investor_type": np.where(person, "P", "E"),
            "investor_name": inv_name,
            "investor_uscc": inv_uscc,
            "investor_country": country,
            "investor_region_code": region_code,
            "subscribed_capital": money(cents),
            "invest_date": dates(invest_date),
            "record_date": dates(ld),
            "_cents": cents,
        }
    )
