"""The generated population of Shanghai enterprises (landing_zone.py): its weights and shares, the
helpers that draw it, and `draw_population`, which draws every enterprise's record and investors' plan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from laiou_assets import codes
from laiou_assets.generate.weights import (
    ALPHABET,
    CHAIN_LENGTH,
    CHAINS_PER,
    CYCLE_LENGTH,
    DISTRICT_WEIGHTS,
    ENT_TYPE_WEIGHTS,
    GROWTH_PER_YEAR,
    INDUSTRY_WEIGHTS,
    LEGACY_UNTIL,
    LEGACY_VOUCHER_SHARE,
    PROVINCE_WEIGHTS,
    RETIRED_FOR,
    TRADES,
    WORDS,
)
from laiou_assets.generate.writer import zfill


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
    check = codes.uscc_check_indices(idx)
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


def month_period(month: np.datetime64) -> str:
    """One month (datetime64[M] or [D]) → 'YYYYMM'."""
    return str(month.astype("datetime64[M]")).replace("-", "")


class Ids:
    """Distinct organisation-code ids across every USCC the generator makes."""

    def __init__(self):
        self.next = 1

    def take(self, n: int) -> np.ndarray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


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


def _choose_laiou(rng, cfg, since_if_laiou: np.ndarray, end: np.datetime64) -> np.ndarray:
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


def _spec(idx: np.ndarray, **columns: np.ndarray) -> dict[str, np.ndarray]:
    return {"idx": idx, **{k: v[idx] for k, v in columns.items()}}


def _concat_specs(*specs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([s[k] for s in specs]) for k in specs[0]}


@dataclass
class Population:
    """Every enterprise's arrays (index i: the i-th enterprise by registration date) and the plan of what
    each month delivers: records (`ent_spec`), investor lists (`list_*`), the statistics reporters (`big`)."""

    n: object
    first: object
    end: object
    months: object
    reg_date: object
    ent_type: object
    is_branch: object
    district: object
    district_recorded: object
    uscc: object
    industry: object
    capital_cents: object
    reg_no: object
    names: object
    legacy_id: object
    legacy_share: object
    exits: object
    exit_date: object
    exit_status: object
    owners: object
    changes: object
    change_date: object
    laiou: object
    largest_owner: object
    parent: object
    ent_spec: object
    list_owner: object
    list_date: object
    list_initial: object
    list_laiou: object
    list_month: object
    big: object
    staff: object
    ytd_rev: object
    ytd_profit: object


def draw_population(rng, extra, ids: Ids, cfg, months: np.ndarray) -> Population:
    """Draw the enterprises, their exits, investor lists, 来沪 status and branches' parents, in the order the
    random streams have always been drawn (the same seed gives the same zone)."""
    first = np.datetime64(cfg.first_month, "M").astype("datetime64[D]")
    end = (np.datetime64(cfg.last_month, "M") + 1).astype("datetime64[D]") - 1
    n = cfg.enterprises
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

    return Population(
        n=n,
        first=first,
        end=end,
        months=months,
        reg_date=reg_date,
        ent_type=ent_type,
        is_branch=is_branch,
        district=district,
        district_recorded=district_recorded,
        uscc=uscc,
        industry=industry,
        capital_cents=capital_cents,
        reg_no=reg_no,
        names=names,
        legacy_id=legacy_id,
        legacy_share=legacy_share,
        exits=exits,
        exit_date=exit_date,
        exit_status=exit_status,
        owners=owners,
        changes=changes,
        change_date=change_date,
        laiou=laiou,
        largest_owner=largest_owner,
        parent=parent,
        ent_spec=ent_spec,
        list_owner=list_owner,
        list_date=list_date,
        list_initial=list_initial,
        list_laiou=list_laiou,
        list_month=list_month,
        big=big,
        staff=staff,
        ytd_rev=ytd_rev,
        ytd_profit=ytd_profit,
    )
