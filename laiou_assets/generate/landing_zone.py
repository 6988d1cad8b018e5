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

from laiou_assets import codes
from laiou_assets.generate.writer import dates, money, write_delivery, zfill

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
FOREIGN = {"HKG": 0.5, "TWN": 0.1, "MAC": 0.05, "USA": 0.1, "JPN": 0.08, "SGP": 0.1, "DEU": 0.07}
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
WORDS = np.array(["宏达", "华信", "东方", "恒通", "汇丰", "锦程", "瑞祥", "新元", "博远", "嘉禾", "天成", "永盛"])
TRADES = np.array(["贸易", "科技", "实业", "信息技术", "商务咨询", "供应链管理", "机械", "电子"])
# Investor classes; the largest investor's class decides 来沪 (R5, R7).
OTHER_E, OTHER_P, SH_E, SH_P, FOREIGN_E, NATIONAL_E, UNKNOWN_E = range(7)
CONTROLLER_P = [0.22, 0.08, 0.40, 0.12, 0.10, 0.03, 0.05]
MINOR_P = [0.20, 0.15, 0.30, 0.30, 0.03, 0.01, 0.01]
MONTH_SEASON = np.array([1.25, 0.8, 0.95, 1.0, 1.3, 1.0, 1.1, 0.95, 0.95, 1.05, 0.9, 1.1])


@dataclass
class GeneratorConfig:
    first_month: str  # YYYY-MM
    last_month: str
    enterprises: int
    seed: int = 20181231
    since: str = "2000-01-01"  # earliest registration date
    share_registered_before: float = 0.6  # of enterprises registered before the first month


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


def _period(days: np.ndarray) -> np.ndarray:
    """datetime64[D] → 'YYYYMM'."""
    if days.size == 0:  # numpy's string functions fail on empty arrays
        return np.array([], dtype="<U6")
    return np.char.replace(np.datetime_as_string(days.astype("datetime64[M]"), unit="M"), "-", "")


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


def generate(out: Path, cfg: GeneratorConfig, progress: Callable[[str], None] = print) -> dict:
    rng = np.random.default_rng(cfg.seed)
    ids = _Ids()
    first = np.datetime64(cfg.first_month, "M").astype("datetime64[D]")
    end = (np.datetime64(cfg.last_month, "M") + 1).astype("datetime64[D]") - 1
    months = np.arange(np.datetime64(cfg.first_month, "M"), np.datetime64(cfg.last_month, "M") + 1)
    if len(months) == 0:
        raise ValueError(f"--from {cfg.first_month} is after --to {cfg.last_month}")
    n = cfg.enterprises
    progress(f"generating {n:,} enterprises, {len(months)} months ({cfg.first_month} … {cfg.last_month})")

    # Enterprises ---------------------------------------------------------------------------------
    before = rng.random(n) < cfg.share_registered_before
    since = np.datetime64(cfg.since, "D")
    reg_date = np.where(
        before,
        _days(rng, np.full(n, since), np.full(n, first - 1)),
        _days(rng, np.full(n, first), np.full(n, end)),
    )
    order = np.argsort(reg_date, kind="stable")  # enterprise i registered no later than i+1
    reg_date = reg_date[order]
    ent_type = _choice(rng, ENT_TYPE_WEIGHTS, n)
    is_branch = ent_type == "2100"
    district = _choice(rng, DISTRICT_WEIGHTS, n)
    retired = np.array([RETIRED_FOR.get(d, d) for d in district])
    use_retired = (reg_date < np.datetime64("2015-01-01")) & (rng.random(n) < 0.15)
    district_recorded = np.where(use_retired, retired, district)
    uscc = make_uscc(ids.take(n), district)
    industry = _choice(rng, INDUSTRY_WEIGHTS, n)
    capital_cents = np.where(is_branch, 0, np.round(rng.lognormal(5.0, 1.4, n) * 100)).astype(np.int64)
    reg_no = np.where(
        reg_date < np.datetime64("2015-10-01"),
        np.char.add("310", zfill(rng.integers(0, 10**12, n), 12)),
        "",
    )
    word = WORDS[rng.integers(0, len(WORDS), n)]
    trade = TRADES[rng.integers(0, len(TRADES), n)]
    suffix = np.where(is_branch, "有限公司上海分公司", "有限公司")
    names = np.char.add(np.char.add(np.char.add("上海", word), trade), suffix)
    # Branches: parent out of Shanghai (R8), in Shanghai, or with an invalid USCC (kept, not 来沪).
    parent_kind = rng.choice(3, size=n, p=[0.6, 0.35, 0.05])
    parent_prov = _choice(rng, PROVINCE_WEIGHTS, n)
    parent_region = np.where(parent_kind == 1, "310115", np.char.add(np.char.replace(parent_prov, "0000", ""), "0100"))
    parent = make_uscc(ids.take(n), parent_region)
    bad_check = np.char.add(np.char.ljust(parent, 17).astype("<U17"), "I")  # I is not in the alphabet
    parent = np.where(parent_kind == 2, bad_check, parent)
    parent = np.where(is_branch, parent, "")

    exits = rng.random(n) < 0.15
    exit_date = _days(rng, reg_date + 60, reg_date + 60 + 3650)
    exits &= exit_date <= end
    exit_date = np.where(exits, exit_date, np.datetime64("NaT"))
    exit_status = np.where(exits, rng.choice(np.array(["2", "3", "4"]), size=n, p=[0.6, 0.25, 0.15]), "1")

    # One row per registration/change record, tagged with its delivery period.
    def ent_rows(mask, status, status_date, record_date, period):
        idx = np.flatnonzero(mask)
        return pd.DataFrame(
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
                "status": status[idx],
                "status_date": dates(status_date[idx]),
                "record_date": dates(record_date[idx]),
                "_period": period[idx] if isinstance(period, np.ndarray) else period,
                "_cents": capital_cents[idx],
            }
        )

    exited_before = exits & (exit_date < first)
    first_period = _month_period(first)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    enterprise_rows = pd.concat(
        [
            ent_rows(
                reg_date < first,
                np.where(exited_before, exit_status, "1"),
                np.where(exited_before, exit_date, nat),
                np.where(exited_before, exit_date, reg_date),
                first_period,
            ),
            ent_rows(reg_date >= first, np.full(n, "1"), nat, reg_date, _period(reg_date)),
            ent_rows(
                exits & ~exited_before, exit_status, exit_date, exit_date, _period(np.where(exits, exit_date, first))
            ),
        ],
        ignore_index=True,
    )

    # Shareholder lists -------------------------------------------------------------------------------
    owners = np.flatnonzero(~is_branch)
    list_date = reg_date[owners]
    list_period = np.where(list_date < first, first_period, _period(list_date))
    lists = [(owners, list_date, list_period, True)]
    # A month delivers at most one list per enterprise: a change comes after the initial list's month.
    second_month = (np.datetime64(cfg.first_month, "M") + 1).astype("datetime64[D]")
    change_low = np.maximum(reg_date[owners] + 60, second_month)
    change_high = np.where(exits[owners], exit_date[owners] - 1, end)
    changes = (rng.random(len(owners)) < 0.08) & (change_low <= change_high)
    change_date = _days(rng, change_low[changes], change_high[changes])
    lists.append((owners[changes], change_date, _period(change_date), False))
    shareholder_rows = pd.concat(
        [_investor_rows(rng, ids, o, d, p, initial, uscc, reg_date, capital_cents) for o, d, p, initial in lists],
        ignore_index=True,
    )

    # Tax vouchers, month by month --------------------------------------------------------------------
    tax_frames = []
    for m in months:
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
        tax_frames.append(
            pd.DataFrame(
                {
                    "voucher_no": np.char.add(f"3{period}", zfill(np.arange(k), 9)),
                    "taxpayer_id": uscc[who],
                    "tax_period": tax_period,
                    "tax_type": types,
                    "amount": money(cents),
                    "paid_date": dates(_days(rng, np.full(k, m_start), np.full(k, m_end))),
                    "_period": period,
                    "_cents": cents,
                }
            )
        )

    # Statistics: YTD figures of an above-designated-size subset (千元) --------------------------------
    stats_frames = []
    big = np.flatnonzero(~is_branch & (rng.random(n) < 0.12))
    monthly_rev = rng.lognormal(6.0, 1.2, (len(big), len(months))) * 100  # cents of 千元
    margin = rng.normal(0.06, 0.08, (len(big), len(months)))
    staff = np.maximum(1, rng.lognormal(3.5, 1.0, len(big))).astype(np.int64)
    ytd_rev = np.zeros(len(big))
    ytd_profit = np.zeros(len(big))
    for j, m in enumerate(months):
        m_start = m.astype("datetime64[D]")
        m_end = (m + 1).astype("datetime64[D]") - 1
        if str(m).endswith("-01"):
            ytd_rev[:] = 0
            ytd_profit[:] = 0
        active = (reg_date[big] <= m_end) & ~(exits[big] & (exit_date[big] < m_start))
        ytd_rev += np.where(active, np.round(monthly_rev[:, j]), 0)
        ytd_profit += np.where(active, np.round(monthly_rev[:, j] * margin[:, j]), 0)
        sel = np.flatnonzero(active)
        period = _month_period(m)
        rev_cents = ytd_rev[sel].astype(np.int64)
        stats_frames.append(
            pd.DataFrame(
                {
                    "uscc": uscc[big[sel]],
                    "period": period,
                    "revenue_ytd": money(rev_cents),
                    "profit_ytd": money(ytd_profit[sel].astype(np.int64)),
                    "employees": (staff[sel] * (1 + 0.01 * j)).astype(np.int64).astype(str),
                    "_period": period,
                    "_cents": rev_cents,
                }
            )
        )

    # Write every month of every feed -----------------------------------------------------------------
    feeds = {
        "saic_enterprise": (enterprise_rows, "上海市市场监督管理局"),
        "saic_shareholder": (shareholder_rows, "上海市市场监督管理局"),
        "tax_payment": (pd.concat(tax_frames, ignore_index=True), "国家税务总局上海市税务局"),
        "stats_indicator": (pd.concat(stats_frames, ignore_index=True), "上海市统计局"),
    }
    summary = {"enterprises": n, "months": len(months)}
    for feed, (frame, source) in feeds.items():
        groups = dict(tuple(frame.groupby("_period", sort=True)))
        for m in months:
            period = _month_period(m)
            part = groups.get(period, frame.iloc[0:0])
            write_delivery(out, feed, period, part, part["_cents"].to_numpy(), source)
        summary[f"{feed}_rows"] = len(frame)
        progress(f"  {feed}: {len(frame):,} rows in {len(months)} monthly deliveries")
    return summary


def _investor_rows(rng, ids, owners, list_date, list_period, initial, uscc, reg_date, capital_cents) -> pd.DataFrame:
    """Complete investor lists for the given enterprises, each replacing any earlier list (feeds.md)."""
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
    klass = np.where(largest, rng.choice(7, size=total, p=CONTROLLER_P), rng.choice(7, size=total, p=MINOR_P))
    # The order of the list does not follow the capital (ties and order are for R7 to sort out).
    seq = np.empty(total, dtype=np.int64)
    perm_key = row_owner * 10 + rng.random(total)
    order = np.argsort(perm_key, kind="stable")
    seq[order] = np.arange(total) - first_row[order] + 1

    person = (klass == OTHER_P) | (klass == SH_P)
    province = np.where(np.isin(klass, [OTHER_E, OTHER_P]), _choice(rng, PROVINCE_WEIGHTS, total), "310000")
    region = np.char.add(np.char.replace(province, "0000", ""), "0100")
    region_code = np.where(
        np.isin(klass, [OTHER_E, SH_E]) & (rng.random(total) < 0.65) | (person & (rng.random(total) < 0.9)),
        region,
        "",
    )
    region_code = np.where(np.isin(klass, [FOREIGN_E, NATIONAL_E, UNKNOWN_E]), "", region_code)
    country = np.where(klass == FOREIGN_E, _choice(rng, FOREIGN, total), "CHN")
    inv_region = np.where(klass == NATIONAL_E, "100000", region)
    inv_uscc = make_uscc(ids.take(total), inv_region)
    # Half of the Shanghai enterprise investors are enterprises of this same population (chains, R10).
    own = np.flatnonzero((klass == SH_E) & (rng.random(total) < 0.5))
    inv_uscc[own] = uscc[rng.integers(0, len(uscc), len(own))]
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
    early = initial & (rng.random(total) < 0.15)  # invested before the registration date (R7 clamps)
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
            "_period": list_period[row_owner],
            "_cents": cents,
        }
    )
