"""Issue #18: the monthly path is incremental, and the marts it leaves are those of a full build.

A zone is loaded and built month by month, as deliveries arrive; then a month of tax is delivered again
with vouchers removed that a later month repeats (they must then count at that later month), and without
its earliest tax month (whose facts must be emptied); and the same month of registrations and investor
lists again, with one enterprise withdrawn, one 来沪 enterprise moved to another district and one direct
来沪 enterprise's investor list withdrawn (it is then no longer direct, R7). Every row of
every intermediate model and mart is compared with a full rebuild (`dbt build --full-refresh`) of the same
raw data, which keeps the publications; the month-by-month runs are shown to have added months without
rewriting the held ones.
"""

import subprocess

import psycopg

from laiou_assets import settings
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.publishing import publish
from laiou_assets.running import run_everything
from tests.deliveries import delivered_rows, rewrite
from tests.marts_access import dbt_command, fetch

CONFIG = GeneratorConfig("2018-11", "2018-12", 700, seed=23)
# Vouchers of the previous tax month delivered again: each counts once, at its earliest delivery (feeds.md).
PLAN = FaultPlan.parse([], [], ["repeated=tax_payment/2018-12"])
VOUCHERS = "intermediate.int_tax_vouchers"


def every_row(url: str) -> dict[str, list[str]]:
    """Each table and view of intermediate and marts, its rows as text, sorted."""
    relations = fetch(
        url,
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname in ('intermediate', 'marts') and c.relkind in ('r', 'v', 'p') order by 1",
    )
    return {name: [r[0] for r in fetch(url, f"select t::text from {name} t order by 1")] for (name,) in relations}


def held_november(url: str) -> list[tuple]:
    """The physical version (xmin) of each voucher row held from the November delivery."""
    return fetch(url, f"select voucher_no, xmin::text from {VOUCHERS} where delivery_period = '2018-11-01' order by 1")


def fetch_none(url: str, sql: str, *params) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


def held_enterprises(url: str) -> list[tuple]:
    """The physical version of each current enterprise record held from November that December does not touch."""
    return fetch(
        url,
        "select uscc, xmin::text from intermediate.int_enterprises_current where delivery_period = '2018-11-01' "
        "and uscc not in (select uscc from raw.saic_enterprise where _period = '2018-12-01') order by 1",
    )


def november_only(url: str, condition: str) -> str:
    """An enterprise with registrations and investor lists delivered in November only, meeting `condition`
    (on int_enterprises_laiou as e), and whose vouchers (if any) count for no other enterprise."""
    [(uscc,)] = fetch(
        url,
        "select e.uscc from intermediate.int_enterprises_laiou e where " + condition + " and not exists "
        "(select 1 from raw.saic_enterprise r where r.uscc = e.uscc and r._period <> '2018-11-01') and not exists "
        "(select 1 from raw.saic_shareholder r where r.uscc = e.uscc and r._period <> '2018-11-01') "
        "order by e.uscc limit 1",
    )
    return uscc


def deliver_november_registrations(landing, withdrawn: str, moved: str, to_district: str, unlisted: str) -> None:
    rows, encoding = delivered_rows(landing, "saic_enterprise", "201811")
    district = rows[0].index("district_code")
    kept = [rows[0], *(r for r in rows[1:] if r[0] != withdrawn)]
    for row in kept[1:]:
        if row[0] == moved:
            row[district] = to_district
    rewrite(landing, "saic_enterprise", "201811", kept, encoding)
    rows, encoding = delivered_rows(landing, "saic_shareholder", "201811")
    rewrite(landing, "saic_shareholder", "201811", [r for r in rows if r[0] not in (withdrawn, unlisted)], encoding)


def deliver_november_without(landing, vouchers: set[str]) -> None:
    rows, encoding = delivered_rows(landing, "tax_payment", "201811")
    kept = [rows[0], *(r for r in rows[1:] if r[0] not in vouchers)]
    assert len(kept) == len(rows) - len(vouchers)
    rewrite(landing, "tax_payment", "201811", kept, encoding)


def test_month_by_month_and_a_redelivered_month_give_the_marts_of_a_full_build(laiou_env, tmp_path):
    url, landing = laiou_env["LAIOU_DATABASE_URL"], laiou_env["landing"]
    generate(landing, CONFIG, progress=lambda _: None, faults=PLAN)

    assert run_everything(last="2018-11") == 0
    tables = "select %s::regclass::oid, 'intermediate.int_enterprises_current'::regclass::oid"
    table = fetch(url, tables, params=[VOUCHERS])
    november, enterprises = held_november(url), held_enterprises(url)
    assert november and enterprises
    assert run_everything(last="2018-12") == 0
    assert held_november(url) == november  # the held month was not read or written again
    assert held_enterprises(url) == enterprises  # nor the enterprises December has no record of
    assert fetch(url, tables, params=[VOUCHERS]) == table  # never rebuilt whole

    # November again, without the vouchers December repeats: they now count from December.
    repeated = {
        v
        for (v,) in fetch(
            url,
            "select voucher_no from raw.tax_payment where _period = '2018-11-01' intersect "
            "select voucher_no from raw.tax_payment where _period = '2018-12-01'",
        )
    }
    assert repeated
    # ... and without its earliest tax month, which no other delivery holds: the facts of that month, the
    # first month a build refreshes, must be emptied (the range of months starts at the facts held too).
    rows = {m: delivered_rows(landing, "tax_payment", m)[0] for m in ("201811", "201812")}
    period = rows["201811"][0].index("tax_period")
    earliest = min(r[period] for r in rows["201811"][1:])
    assert all(r[period] != earliest for r in rows["201812"][1:])
    gone = {r[0] for r in rows["201811"][1:] if r[period] == earliest}
    month = f"{earliest[:4]}-{earliest[4:]}-01"
    facts_of_month = f"select count(*) from marts.fct_tax_monthly where tax_month = '{month}'"
    assert fetch(url, facts_of_month)[0][0] > 0
    deliver_november_without(landing, repeated | gone)
    # November's registrations and investor lists again: an enterprise with nothing to count withdrawn, a
    # headline 来沪 enterprise moved to another district, a direct one's investor list withdrawn.
    paid = "select 1 from intermediate.int_tax_vouchers_resolved v where v.enterprise_uscc = e.uscc"
    withdrawn = november_only(url, f"not exists ({paid}) and not e.is_branch")
    relocated = november_only(url, f"e.is_headline and e.district_code <> '310115' and e.uscc <> '{withdrawn}'")
    unlisted = november_only(url, f"e.laiou_kind = 'direct' and e.uscc not in ('{relocated}', '{withdrawn}')")
    deliver_november_registrations(landing, withdrawn, relocated, "310115", unlisted)
    assert run_everything() == 0
    assert fetch(url, facts_of_month)[0][0] == 0
    current = "select uscc, district_code from intermediate.int_enterprises_current where uscc = any(%s) order by 1"
    assert fetch(url, current, params=[[withdrawn, relocated]]) == [(relocated, "310115")]
    listed = "select count(*) from intermediate.int_investors_current where uscc = any(%s)"
    assert fetch(url, listed, params=[[withdrawn, unlisted]]) == [(0,)]
    kind = "select laiou_kind from intermediate.int_enterprises_classified where uscc = %s"
    assert fetch(url, kind, params=[unlisted]) == [(None,)]
    moved = fetch(
        url,
        f"select distinct delivery_period::text from {VOUCHERS} where voucher_no = any(%s)",
        params=[list(repeated)],
    )
    assert moved == [("2018-12-01",)]

    # A release that changes a reference table reaches the enterprises held, with no delivery: the incremental
    # models note the seeds they were built with. Here a district's successor (R2), changed and changed back.
    [(recorded, enterprises)] = fetch(
        url,
        "select district_code_recorded, count(*) from intermediate.int_enterprises_current "
        "where district_code_recorded <> '310101' group by 1 order by 2 desc, 1 limit 1",
    )
    districts = "select district_code, count(*) from intermediate.int_enterprises_current "
    districts += f"where district_code_recorded = '{recorded}' group by 1"
    succeeded = "update reference.ref_districts set successor_code = %s where district_code = %s"
    only_current = ("--select", "int_enterprises_current", "--exclude-resource-type", "unit_test")
    for successor in ("310101", recorded):
        fetch_none(url, succeeded, successor, recorded)
        argv, env = dbt_command(url, tmp_path, "build", *only_current)
        done = subprocess.run(argv, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-4000:]
        assert fetch(url, districts) == [(successor, enterprises)]

    assert publish(2018) == 0  # a publication: a full rebuild must keep it (published_figures is not data)
    incremental = every_row(url)
    assert incremental["marts.published_figures"] and incremental["marts.fct_tax_monthly"]
    argv, env = dbt_command(url, tmp_path, "build", "--full-refresh", "--exclude-resource-type", "unit_test")
    done = subprocess.run(argv, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:]
    full = every_row(url)
    assert full.keys() == incremental.keys()
    differing = [name for name in full if full[name] != incremental[name]]
    assert differing == [], f"incremental ≠ full build in {differing}"
