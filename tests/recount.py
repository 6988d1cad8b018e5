"""An independent recount of the headline figures with plain pandas over the landing zone's CSV files.

Written from rules.md alone (R1, R3, R5–R14), sharing no code with the project, so that the
end-to-end tests compare the SQL marts against a second reading of the rules.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
MAINLAND = {
    str(p) for p in [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66)]
}


def valid_uscc(code: str) -> bool:
    if not isinstance(code, str) or len(code) != 18 or any(c not in ALPHABET for c in code):
        return False
    total = sum(ALPHABET.index(c) * (3**i % 31) for i, c in enumerate(code[:17]))
    return ALPHABET[(31 - total % 31) % 31] == code[17]


def read_feed(landing: Path, feed: str) -> pd.DataFrame:
    frames = []
    for path in sorted(landing.glob(f"{feed}/*/{feed}_*.csv")):
        manifest = json.loads(path.with_name(path.name.replace(".csv", ".manifest.json")).read_text("utf-8"))
        codec = "utf-8-sig" if manifest["encoding"] == "UTF-8" else "gb18030"  # a UTF-8 file may start with a BOM
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=codec)
        df["_period"] = path.parent.name
        df["_line"] = range(2, len(df) + 2)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def province(code: str) -> str | None:
    return code[:2] if len(code) == 6 and code.isdigit() and code[:2] in MAINLAND else None


def current_enterprises(landing: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """R6 current records, and each enterprise's largest current investor (R7) with its province (R5)."""
    ent = read_feed(landing, "saic_enterprise")
    ent = ent.sort_values(["uscc", "record_date", "_period", "_line"]).groupby("uscc").tail(1)  # R6
    sh = read_feed(landing, "saic_shareholder")
    latest = sh.sort_values(["uscc", "record_date", "_period"]).groupby("uscc").tail(1)[["uscc", "_period"]]
    sh = sh.merge(latest, on=["uscc", "_period"])  # R6: the whole list of the latest delivery

    def investor_province(r) -> str | None:  # R5
        if r.investor_country != "CHN":
            return None
        p = province(r.investor_region_code)
        if p:
            return p
        if r.investor_type == "E" and valid_uscc(r.investor_uscc):
            return r.investor_uscc[2:4] if r.investor_uscc[2:4] in MAINLAND else None
        return None

    sh["prov"] = [investor_province(r) for r in sh.itertuples()]
    sh["cap"] = sh.subscribed_capital.map(Decimal)
    sh["seq"] = sh.investor_seq.astype(int)
    largest = sh.sort_values(["uscc", "cap", "seq"], ascending=[True, False, True]).groupby("uscc").head(1)  # R7
    return ent, largest


def laiou_enterprises(landing: Path) -> pd.DataFrame:
    """Direct (R7) and branch (R8) enterprises: uscc, kind, province, since, status, status_date."""
    return _direct_and_branch(*current_enterprises(landing))


def _direct_and_branch(ent: pd.DataFrame, largest: pd.DataFrame) -> pd.DataFrame:
    ent = ent.merge(largest[["uscc", "prov", "invest_date"]], on="uscc", how="left")
    rows = []
    for r in ent.itertuples():
        if r.ent_type != "2100" and isinstance(r.prov, str) and r.prov != "31":
            kind, prov, since = "direct", r.prov, max(r.invest_date, r.reg_date)
        elif r.ent_type == "2100" and valid_uscc(r.parent_uscc) and r.parent_uscc[2:4] in MAINLAND - {"31"}:
            kind, prov, since = "branch", r.parent_uscc[2:4], r.reg_date
        else:
            continue
        rows.append((r.uscc, kind, prov, since, r.status, r.status_date, Decimal(r.reg_capital)))
    return pd.DataFrame(rows, columns=["uscc", "kind", "province", "since", "status", "status_date", "reg_capital"])


def indirect_enterprises(landing: Path) -> pd.DataFrame:
    """R10: uscc, level (2–5), since of the enterprises 来沪 through their largest investor, level by level."""
    ent, largest = current_enterprises(landing)
    laiou = _direct_and_branch(ent, largest)
    candidates = set(ent[ent.ent_type != "2100"].uscc) - set(laiou.uscc)
    parents = largest[largest.uscc.isin(candidates) & (largest.investor_uscc != "")]
    parents = parents.merge(ent[["uscc", "reg_date"]], on="uscc")[["uscc", "investor_uscc", "invest_date", "reg_date"]]
    above = laiou[["uscc", "since"]].assign(root=laiou.uscc)
    found = []
    for n in range(2, 6):  # direct and branch are level 1; a level-6 candidate is not 来沪
        level = parents.merge(above.rename(columns={"uscc": "investor_uscc", "since": "parent_since"}))
        level = level.assign(level=n, since=level[["reg_date", "invest_date", "parent_since"]].max(axis=1))
        above = level[["uscc", "since", "root"]]
        found.append(level[["uscc", "level", "since", "root"]])  # root: the level-1 enterprise of the chain
    return pd.concat(found, ignore_index=True)


def counted_tax(landing: Path, laiou: pd.DataFrame) -> pd.DataFrame:
    """R12 vouchers: each once (earliest delivery), of a 来沪 enterprise, not before laiou_since's month."""
    tax = read_feed(landing, "tax_payment").sort_values(["voucher_no", "_period", "_line"])
    tax = tax.groupby("voucher_no").head(1)
    # R9: a 15-character legacy id belongs to the one enterprise whose USCC positions 9–17 are its last nine.
    known = pd.Series(read_feed(landing, "saic_enterprise").uscc.unique())
    orgs = known.groupby(known.str[8:17]).agg(["first", "size"])
    unique_org = orgs[orgs["size"] == 1]["first"]
    legacy = tax.taxpayer_id.str.len() == 15
    tax.loc[legacy, "taxpayer_id"] = tax.taxpayer_id[legacy].str[6:].map(unique_org).fillna("")
    tax = tax[tax.taxpayer_id.str.len() == 18].merge(laiou, left_on="taxpayer_id", right_on="uscc")
    return tax[tax.tax_period >= tax.since.str[:7].str.replace("-", "")]


def year_statistics(landing: Path) -> pd.DataFrame:
    """R13 per enterprise and year: revenue YTD of the latest reported month, and its employees."""
    stats = read_feed(landing, "stats_indicator").sort_values(["uscc", "period", "_period", "_line"])
    stats = stats.groupby(["uscc", "period"]).tail(1)  # a corrected month: its latest delivery
    stats["year"] = stats.period.str[:4].astype(int)
    latest = stats.sort_values(["uscc", "period"]).groupby(["uscc", "year"]).tail(1)
    return latest[["uscc", "year", "revenue_ytd", "employees"]]


def by_province_year(landing: Path) -> dict[tuple[int, str], dict]:
    """(year, province 2 digits) → the measures of mart_laiou_by_province_year (R11–R14)."""
    laiou = laiou_enterprises(landing)
    tax = counted_tax(landing, laiou)
    stats = year_statistics(landing)
    out = {}
    for y in delivered_years(landing):
        end = f"{y}-12-31"
        year_tax = tax[tax.tax_period.str[:4] == str(y)]
        total = sum((Decimal(a) for a in year_tax.amount), Decimal(0))
        year_stats = stats[stats.year == y].set_index("uscc")
        for prov, group in laiou.groupby("province"):
            cum = group[group.since <= end]
            exited = group[group.status.isin(["2", "3", "4"]) & (group.status_date.str[:4] == str(y))]
            if cum.empty and exited.empty:
                continue
            active = cum[(cum.status == "1") | (cum.status_date > end)]
            members = set(cum.uscc) | set(exited.uscc)
            prov_tax = sum((Decimal(a) for a in year_tax[year_tax.province == prov].amount), Decimal(0))
            reported = year_stats[year_stats.index.isin(members)]
            out[(y, prov)] = {
                "cumulative": len(cum),
                "active": len(active),
                "new": int((group.since.str[:4] == str(y)).sum()),
                "exited": len(exited),
                "reg_capital_wan": sum(active.reg_capital, Decimal(0)),
                "tax_wan": prov_tax / Decimal(10000),
                "tax_share": (prov_tax / total).quantize(Decimal("1e-10"), ROUND_HALF_UP) if total else None,
                "revenue_k": sum((Decimal(v) for v in reported.revenue_ytd), Decimal(0)) if len(reported) else None,
                "employees": int(reported.employees.astype(int).sum()) if len(reported) else None,
            }
    return out


def delivered_years(landing: Path) -> range:
    periods = sorted(p.name for p in landing.glob("*/[0-9]*"))
    return range(int(periods[0][:4]), int(periods[-1][:4]) + 1)


def summary_by_year(landing: Path) -> pd.DataFrame:
    """R11 counts and R12 tax (万元) for every year from the first delivered month to the last."""
    laiou = laiou_enterprises(landing)
    tax = counted_tax(landing, laiou)
    indirect = indirect_enterprises(landing)
    rows = []
    for y in delivered_years(landing):
        end = f"{y}-12-31"
        cum = laiou[laiou.since <= end]
        active = cum[(cum.status == "1") | (cum.status_date > end)]
        rows.append(
            {
                "year": y,
                "cumulative": len(cum),
                "active": len(active),
                "new": int((laiou.since.str[:4] == str(y)).sum()),
                "exited": int((laiou.status.isin(["2", "3", "4"]) & (laiou.status_date.str[:4] == str(y))).sum()),
                "tax_wan": sum((Decimal(a) for a in tax[tax.tax_period.str[:4] == str(y)].amount), Decimal(0))
                / Decimal(10000),
                "indirect_cumulative": int((indirect.since <= end).sum()),
            }
        )
    return pd.DataFrame(rows)


RETIRED = {"310103": "310101", "310108": "310106", "310119": "310115", "310230": "310151"}  # R2


def by_investor_year(landing: Path) -> dict[tuple[int, str, str | None], dict]:
    """(year, province 2 digits, investor USCC or None for 其他投资者) → mart_laiou_by_investor_year's row (R15)."""
    ent, largest = current_enterprises(landing)
    laiou = _direct_and_branch(ent, largest).merge(ent[["uscc", "district_code", "parent_uscc"]], on="uscc")
    laiou["district"] = laiou.district_code.map(lambda d: RETIRED.get(d, d))
    top = largest.set_index("uscc")

    def investor_of(r) -> str | None:  # of a level-1 enterprise: a branch's parent, a direct one's largest investor
        if r.kind == "branch":
            return r.parent_uscc
        i = top.loc[r.uscc]
        return i.investor_uscc if i.investor_type == "E" and valid_uscc(i.investor_uscc) else None

    laiou["investor"] = [investor_of(r) for r in laiou.itertuples()]
    indirect = indirect_enterprises(landing).merge(
        laiou[["uscc", "province", "investor"]].rename(columns={"uscc": "root"}), on="root"
    )
    rows = read_feed(landing, "saic_shareholder")
    rows = rows[(rows.investor_type == "E") & rows.investor_uscc.map(valid_uscc)]
    names = rows.sort_values(["record_date", "_period", "_line"]).groupby("investor_uscc").investor_name.last()
    tax = counted_tax(landing, laiou)
    for df in (laiou, indirect):  # "" for 其他投资者, so that groupby keeps the group
        df["inv"] = [i if isinstance(i, str) else "" for i in df.investor]
    heads, chains_of = (
        dict(tuple(laiou.groupby(["province", "inv"]))),
        dict(tuple(indirect.groupby(["province", "inv"]))),
    )
    out = {}
    for y in delivered_years(landing):
        end = f"{y}-12-31"
        year_tax = (
            tax[tax.tax_period.str[:4] == str(y)]
            .groupby("uscc")
            .amount.agg(lambda a: sum((Decimal(v) for v in a), Decimal(0)))
        )
        for prov, inv in set(heads) | set(chains_of):
            investor = inv or None
            group, chains = heads.get((prov, inv), laiou.iloc[:0]), chains_of.get((prov, inv), indirect.iloc[:0])
            cum = group[group.since <= end]
            active = cum[(cum.status == "1") | (cum.status_date > end)]
            indirect_cum = int((chains.since <= end).sum())
            if len(cum) + indirect_cum == 0:
                continue  # an investor appears once it has a cumulative enterprise of any kind
            out[(y, prov, investor)] = {
                "investor_name": "其他投资者" if investor is None else names.get(investor),
                "cumulative": len(cum),
                "active": len(active),
                "new": int((group.since.str[:4] == str(y)).sum()),
                "exited": int((group.status.isin(["2", "3", "4"]) & (group.status_date.str[:4] == str(y))).sum()),
                "indirect_cumulative": indirect_cum,
                "districts_active": active.district.nunique(),
                "tax_wan": sum((year_tax.get(u, Decimal(0)) for u in group.uscc), Decimal(0)) / Decimal(10000),
            }
    return out
