"""The rows of each feed's monthly delivery, drawn from the population (population.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from laiou_assets.contract import FEEDS
from laiou_assets.generate.population import (
    _chars,
    _choice,
    _days,
    make_uscc,
    month_period,
)
from laiou_assets.generate.weights import (
    BUSINESS_TAX,
    BUSINESS_TAX_UNTIL,
    CONTROLLER_P,
    FOREIGN,
    FOREIGN_E,
    GROUP_ID_BASE,
    GROUP_SHARE,
    MINOR_P,
    MONTH_SEASON,
    NATIONAL_E,
    OTHER_E,
    OTHER_P,
    PROVINCE_WEIGHTS,
    SH_E,
    SH_P,
    SURNAMES,
    TAX_TYPE_WEIGHTS,
    TIE_SHARE,
    TRADES,
    UNKNOWN_E,
    UNKNOWN_LEGACY_SHARE,
    WORDS,
)
from laiou_assets.generate.writer import dates, money, zfill


def tax_rows(rng, m, reg_date, exits, exit_date, capital_cents, uscc) -> pd.DataFrame:
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
    period = month_period(m)
    tax_period = np.where(same_month, period, month_period(m - 1))
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


def taxpayer_ids(rng, ids, who, uscc, legacy_id, legacy_share) -> np.ndarray:
    """R9: the USCC, or for part of the pre-reform enterprises' vouchers the legacy id; a few unknown ones."""
    out = np.where(rng.random(len(who)) < legacy_share[who], legacy_id[who], uscc[who])
    unknown = np.flatnonzero(rng.random(len(who)) < UNKNOWN_LEGACY_SHARE)
    out[unknown] = np.char.add(
        "310104", _chars(make_uscc(ids.take(len(unknown)), np.full(len(unknown), "310104")), 8, 17)
    )
    return out


def _unit(ids: np.ndarray) -> np.ndarray:
    """A number in [0, 1) fixed by each id (golden-ratio hashing): choices that draw nothing from the random
    streams, so that adding them left every other generated value as it was."""
    return (ids * 0.6180339887498949) % 1.0


def investor_groups(row_ids, province, list_date, population: int) -> tuple[np.ndarray, np.ndarray]:
    """投资集团 (R15): investors of other provinces that invest in many Shanghai enterprises. Each row joins one
    of its province's groups (more groups in a larger population; the first ones the largest), whose USCC and
    name it carries; half of the groups were renamed (控股 → 控股集团) in 2017, so the name is the latest row's."""
    groups = max(10, population // 2000)
    rank = np.floor(groups * ((_unit(row_ids) - (1 - GROUP_SHARE)) / GROUP_SHARE) ** 2).astype(np.int64)
    number = province.astype("<U2").astype(np.int64) * 1_000_000 + rank
    group_uscc = make_uscc(GROUP_ID_BASE + number, province)
    name = rank * 67 + number // 1_000_000  # names vary with the province too
    n_words = len(WORDS)
    first, second = WORDS[name % n_words], WORDS[(name // n_words + name + 1) % n_words]
    base = np.char.add(np.char.add(first, second), TRADES[(name // n_words**2 + name) % len(TRADES)])
    renamed = (rank % 2 == 0) & (list_date >= np.datetime64("2017-01-01"))
    return group_uscc, np.char.add(base, np.where(renamed, "控股集团有限公司", "控股有限公司"))


def investor_rows(
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
    row_ids = ids.take(total)
    inv_uscc = make_uscc(row_ids, inv_region)
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
    grouped = (klass == OTHER_E) & (_unit(row_ids) >= 1 - GROUP_SHARE)
    group_uscc, group_name = investor_groups(row_ids[grouped], province[grouped], ld[grouped], len(uscc))
    inv_name = inv_name.astype(object)  # a group's name is longer than the others' fixed width
    inv_uscc[grouped], inv_name[grouped] = group_uscc, group_name
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
