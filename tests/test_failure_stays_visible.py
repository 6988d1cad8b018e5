"""A failed delivery stays visible until a good one replaces it (issue #14, item 3): every `laiou run`
names it and exits non-zero, the marts are not built over the hole, `laiou status` says so; the corrected
delivery loads, resolves it and the build goes on by itself."""

from __future__ import annotations

import re
import shutil
import time
from decimal import Decimal

import dagster as dg
import psycopg
import pytest

from laiou_assets import building, status
from laiou_assets.generate.faults import FaultPlan
from laiou_assets.generate.landing_zone import GeneratorConfig, generate
from laiou_assets.keys import RANGE_END, RANGE_START, TAX_FACTS
from laiou_assets.running import run_everything
from tests.deliveries import delivered_rows
from tests.recount import summary_by_year

CONFIG = GeneratorConfig("2018-11", "2018-12", 300, seed=14)


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    """The same zone twice: one with the tax delivery of 2018-11 broken (its sha256 does not match), one clean."""
    root = tmp_path_factory.mktemp("zones")
    quiet = {"progress": lambda _: None}
    generate(root / "broken", CONFIG, faults=FaultPlan.parse([], ["sha256_mismatch=tax_payment/2018-11"]), **quiet)
    generate(root / "clean", CONFIG, **quiet)
    return root


def first_tax_period(landing) -> str:
    """The earliest tax_period (YYYY-MM-01) of the vouchers delivered in the zone, read from its CSVs."""
    periods = [
        row[header.index("tax_period")]
        for month in ("201811", "201812")
        for header, *body in [delivered_rows(landing, "tax_payment", month)[0]]
        for row in body
    ]
    first = min(periods)
    return f"{first[:4]}-{first[4:]}-01"


def marts_exist(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("select to_regclass('marts.mart_laiou_summary_year') is not null").fetchone()[0]


def test_a_failed_month_blocks_the_build_until_its_correction_arrives(laiou_env, zones, capsys):
    url, landing = laiou_env["LAIOU_DATABASE_URL"], laiou_env["landing"]
    shutil.copytree(zones / "broken", landing)

    assert run_everything() == 1
    first = capsys.readouterr().err
    assert "tax_payment 2018-11" in first and "sha256" in first
    assert not marts_exist(url)  # nothing built over the hole

    assert run_everything() == 1  # nothing new arrived, and the month is still failed: said again
    second = capsys.readouterr().err
    assert "the latest delivery of these months failed" in second and "tax_payment 2018-11" in second
    assert not marts_exist(url)

    assert run_everything("2018-11", "2018-11", reload=True) == 1  # the bad month tried again, after 2018-12
    capsys.readouterr()
    assert status.main() == 1
    said = capsys.readouterr().out
    assert "!! failed months: 1" in said
    assert any(line.startswith("!!") and "tax_payment 2018-11" in line for line in said.splitlines()), said
    # the newest month of each feed, not the latest attempt: 2018-12 stays in sight
    assert re.search(r"^ +tax_payment +2018-12 loaded ", said, re.MULTILINE), said
    # the failed run's incident says why in the load's own words, not Dagster's "Steps failed: [...]"
    assert "!!   ERROR ingest_feeds 2018-11: raw__tax_payment: tax_payment 201811: " in said, said
    with psycopg.connect(url) as conn:
        [(message,)] = conn.execute("select message from audit.incident where kind = 'run'").fetchall()
    assert re.fullmatch(r"raw__tax_payment: tax_payment 201811: \S+/tax_payment_201811\.csv: sha256 .+", message)

    # The bureau delivers the month again, correctly: the next run loads it and builds.
    shutil.rmtree(landing / "tax_payment" / "201811")
    shutil.copytree(zones / "clean" / "tax_payment" / "201811", landing / "tax_payment" / "201811")
    assert run_everything() == 0
    capsys.readouterr()
    expected = summary_by_year(zones / "clean")
    with psycopg.connect(url) as conn:
        tax, cumulative = conn.execute("select tax_wan, cumulative from marts.mart_laiou_summary_year").fetchone()
        failed_runs_open = conn.execute(
            "select count(*) from audit.incident where resolved_at is null and severity = 'ERROR'"
        ).fetchone()[0]
    assert Decimal(tax) == expected.tax_wan.iloc[0] > 0 and cumulative == expected.cumulative.iloc[0]
    assert failed_runs_open == 0

    assert status.main() == 0, capsys.readouterr().out
    said = capsys.readouterr().out
    assert "failed months: none" in said and "marts: current" in said

    # Nothing new: nothing rebuilt, in seconds.
    t0 = time.perf_counter()
    assert run_everything() == 0
    assert "nothing new" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 15

    # A run limited to 2018-11 still rebuilds the tax facts of 2018-12: what it reloaded can reclassify an
    # enterprise, which moves its later months too (R12).
    instance = dg.DagsterInstance.get()

    def tax_month_built_at(month: str) -> float:
        filter_ = dg.AssetRecordsFilter(asset_key=TAX_FACTS, asset_partitions=[month])
        return instance.fetch_materializations(filter_, limit=1).records[0].timestamp

    before = tax_month_built_at("2018-12-01")
    assert run_everything("2018-11", "2018-11", reload=True) == 0
    said = capsys.readouterr().err
    # from the first tax month of any voucher up to the last delivered one (later months hold no voucher)
    months = f"refresh_tax_facts ({first_tax_period(laiou_env['landing'])[:7]} … 2018-12)"
    assert "[1/1] 2018-11 ok" in said and months in said, said
    assert tax_month_built_at("2018-12-01") > before


def test_status_names_odd_folders_and_deliveries_waiting_for_their_manifest(laiou_env, capsys):
    landing = laiou_env["landing"]
    for folder in ("tax_payments/201812", "tax_payment/209912", "tax_payment/201901"):
        (landing / folder).mkdir(parents=True)
    (landing / "tax_payment" / "201901" / "tax_payment_201901.csv").write_text("voucher_no\n", encoding="utf-8")
    assert status.main() == 1
    lines = capsys.readouterr().out.splitlines()
    flagged = [line for line in lines if line.startswith("!! landing zone:")]
    assert any("tax_payments (not a feed" in line for line in flagged), lines
    assert any("outside the partitions' range" in line and "tax_payment/209912" in line for line in flagged), lines
    assert any("waiting for the manifest of tax_payment/201901" in line for line in lines), lines


def requested(result, keys) -> set[str]:
    return {key.to_user_string() for key in keys if result.get_num_requested(key)}


def test_automation_builds_every_model_after_good_loads_and_none_while_a_month_failed(laiou_env, zones):
    """The daemon's path (the sensor laiou_automation) decided by the models' automation conditions."""
    from laiou_assets.definitions import defs

    landing = laiou_env["landing"]
    shutil.copytree(zones / "broken", landing)
    assert run_everything(build=False) == 1  # the loads only; tax_payment 2018-11 fails
    definitions = defs()
    keys = definitions.resolve_asset_graph().get_all_asset_keys()
    instance = dg.DagsterInstance.get()
    blocked = building.evaluate(definitions, instance, None)
    assert requested(blocked, keys) == set()  # no model, no tax month, while a feed month has failed

    shutil.rmtree(landing / "tax_payment" / "201811")
    shutil.copytree(zones / "clean" / "tax_payment" / "201811", landing / "tax_payment" / "201811")
    assert run_everything(build=False) == 0
    after = building.evaluate(definitions, instance, blocked.cursor)
    dbt_assets = {k.to_user_string() for k in keys if k.path[0] in ("reference", "staging", "intermediate", "marts")}
    # Every model and seed, in one tick; the tax facts wait for the models they read to exist.
    assert requested(after, keys) == dbt_assets - {"marts/fct_tax_monthly"}

    # `laiou run`'s path through the same conditions: the models, then in the next tick every tax month
    # (a classification change can move any month, R12), then nothing.
    runs = building.runs_for(after, definitions)
    assert [job for job, _ in runs] == ["build_marts"]
    assert building.execute(definitions, instance, *runs[0], say=lambda _: None)
    tax_tick = building.evaluate(definitions, instance, after.cursor)
    assert requested(tax_tick, keys) == {"marts/fct_tax_monthly"}
    partitions = definitions.resolve_assets_def(TAX_FACTS).partitions_def
    assert tax_tick.get_requested_partitions(TAX_FACTS) == set(partitions.get_partition_keys())
    tax_runs = building.runs_for(tax_tick, definitions)
    assert tax_runs == [
        (
            "refresh_tax_facts",
            {
                "tags": {
                    RANGE_START: partitions.get_first_partition_key(),
                    RANGE_END: partitions.get_last_partition_key(),
                }
            },
        )
    ]
    # `laiou run` refreshes only the months that can hold tax: from the earliest tax_period delivered to the
    # last tax month delivered (a voucher's tax_period never follows its delivery).
    held = (first_tax_period(landing), "2018-12-01")
    assert held[0] < "2018-11-01"  # late payments: the window starts before the first delivery
    assert building.tax_months_held() == held
    assert building.narrowed_to_held(tax_runs[0][1]["tags"]) == {RANGE_START: held[0], RANGE_END: held[1]}
    # Then the latest month's district packages, from the rebuilt marts: the daemon's to write.
    assert building.execute(definitions, instance, *tax_runs[0], say=lambda _: None)
    packages_tick = building.evaluate(definitions, instance, tax_tick.cursor)
    assert requested(packages_tick, keys) == {"exports/district_packages"}
    packages = dg.AssetKey(["exports", "district_packages"])
    assert packages_tick.get_requested_partitions(packages) == {partitions.get_last_partition_key()}
    assert building.runs_for(packages_tick, definitions) == []
    assert building.evaluate(definitions, instance, packages_tick.cursor).total_requested == 0  # asked once

    # An upgrade that changes a model's SQL (its code version: dbt's checksum) rebuilds it unasked, with
    # what reads it, and nothing above it.
    model = dg.AssetKey(["intermediate", "int_laiou_enterprise_years"])
    upgraded = dg.Definitions(
        assets=dg.map_asset_specs(
            lambda spec: spec.replace_attributes(code_version="upgraded") if spec.key == model else spec,
            definitions.assets,
        ),
        resources=definitions.resources,
    )
    upgrade = requested(building.evaluate(upgraded, instance, packages_tick.cursor), keys)
    graph = definitions.resolve_asset_graph()
    below, frontier = set(), {model}
    while frontier:
        frontier = {child for key in frontier for child in graph.get(key).child_keys} - below
        below |= frontier
    assert model.to_user_string() in upgrade  # in the same tick what reads it (any_deps_updated)
    assert upgrade <= {k.to_user_string() for k in below | {model}}, upgrade - {k.to_user_string() for k in below}
    assert "intermediate/int_tax_vouchers_resolved" not in upgrade  # above it: unchanged
