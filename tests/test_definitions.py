from pathlib import Path

import dagster as dg

from laiou_assets.contract import FEEDS
from laiou_assets.definitions import defs


def _graph():
    return defs().get_repository_def().asset_graph


def test_every_feed_is_a_monthly_partitioned_asset():
    graph = _graph()
    for feed in FEEDS:
        node = graph.get(dg.AssetKey(["raw", feed]))
        assert node.partitions_def is not None
        assert node.partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange("2018-01-01", "2018-12-01"))


def test_asset_graph_has_the_layers_and_marts():
    keys = {k.to_user_string() for k in _graph().get_all_asset_keys()}
    assert {f"raw/{f}" for f in FEEDS} <= keys
    assert {"marts/dim_enterprise", "marts/mart_laiou_summary_year"} <= keys
    assert any(k.startswith("staging/") for k in keys) and any(k.startswith("intermediate/") for k in keys)


def test_marts_depend_on_the_raw_feeds():
    graph = _graph()
    upstream = graph.get(dg.AssetKey(["staging", "stg_feeds__tax_vouchers"])).parent_keys
    assert dg.AssetKey(["raw", "tax_payment"]) in upstream


def test_checks_reconcile_every_feed_and_dbt_tests_are_checks():
    checks = {k.to_user_string() for k in _graph().asset_check_keys}
    assert {f"raw/{f}:reconciles_with_manifest" for f in FEEDS} <= checks
    assert "raw/tax_payment:no_voucher_from_an_earlier_delivery" in checks
    assert "intermediate/int_tax_vouchers_resolved:legacy_taxpayer_ids_resolved" in checks  # R9 report
    assert "marts/dim_enterprise:unique_dim_enterprise_uscc" in checks
    # 守恒 as dbt tests, each on the model whose build makes both sides current (the tax facts: their own run)
    assert {c for c in checks if ":tax_conserved_" in c} == {
        "intermediate/int_tax_vouchers:tax_conserved_vouchers_once",
        "intermediate/int_tax_vouchers_resolved:tax_conserved_resolved_vouchers",
        "intermediate/int_tax_vouchers_resolved:tax_conserved_resolved_amount",
        "marts/mart_laiou_summary_year:tax_conserved_in_summary",
        *(
            f"marts/mart_laiou_by_{split}_year:tax_conserved_by_{split}"
            for split in ("province", "district", "industry", "division", "investor")
        ),
        "marts/fct_tax_monthly:tax_conserved_in_facts",
    }


def test_jobs_and_the_arrival_sensor_exist():
    d = defs()
    assert d.resolve_job_def("ingest_feeds") and d.resolve_job_def("build_marts")
    sensor = d.resolve_sensor_def("landing_zone_arrivals")
    assert sensor.job_name == "ingest_feeds" and sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_every_schedule_and_sensor_runs_by_default_on_shanghai_time_and_says_what_it_does():
    d = defs()
    schedules = [d.resolve_schedule_def(s.name) for s in d.schedules]
    assert len(schedules) >= 6
    for schedule in schedules:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, schedule.name
        assert schedule.execution_timezone == "Asia/Shanghai", schedule.name
        assert schedule.description and " / " in schedule.description, schedule.name  # 中文 / English
    for sensor in d.sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name
        assert sensor.description, sensor.name
    # The monthly partitions (and so the partitioned schedules built from them) follow Shanghai's calendar.
    assert d.resolve_schedule_def("monthly_inspection_report").cron_schedule == "0 9 21 * *"


def test_feeds_and_marts_carry_freshness_policies_on_shanghai_time():
    graph = _graph()
    for feed in FEEDS:
        policy = graph.get(dg.AssetKey(["raw", feed])).freshness_policy
        assert (policy.deadline_cron, policy.timezone) == ("0 0 21 * *", "Asia/Shanghai")  # due by the 20th
    marts = [k for k in graph.get_all_asset_keys() if k.path[0] == "marts"]
    assert marts and all(graph.get(k).freshness_policy.deadline_cron == "0 0 22 * *" for k in marts)


def test_the_dagster_instance_queues_runs_one_at_a_time_and_monitors_them(laiou_env):
    from laiou_assets import warehouse

    warehouse.ensure_dagster_instance()
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_storage.__class__.__module__.startswith("dagster_postgres")


def test_loading_the_definitions_raises_no_dagster_deprecation_beta_or_preview_warning():
    """Only public, current Dagster APIs (issue #15): in a fresh interpreter, importing and resolving every
    definition with those warnings turned into errors."""
    import subprocess
    import sys

    code = """
import warnings
import dagster as dg
for category in (DeprecationWarning, dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
    warnings.simplefilter("error", category)
from laiou_assets.definitions import defs
d = defs()
d.resolve_asset_graph(); d.resolve_all_job_defs(); d.resolve_all_asset_specs()
for s in d.schedules: d.resolve_schedule_def(s.name)
for s in d.sensors: d.resolve_sensor_def(s.name)
print("clean")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().endswith("clean"), done.stderr[-3000:]


def test_every_asset_has_a_bilingual_description_and_a_group():
    import re

    bilingual = re.compile(r"[\u4e00-\u9fff].*/ .*[A-Za-z]")  # 中文 / English
    graph = _graph()
    missing = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if not bilingual.search(graph.get(key).description or "") or graph.get(key).group_name == "default"
    ]
    assert not missing, missing
    # Markdown would swallow <placeholders> outside code spans; dbt's SQL stays under its own tab.
    for key in graph.get_all_asset_keys():
        text = re.sub(r"`[^`]*`", "", graph.get(key).description)
        assert not re.search(r"<[A-Za-z][^>]*>", text) and "Raw SQL" not in text, key
    # Every check says what it checks: the dbt tests in the sentence the reports use.
    unsaid = [k.to_user_string() for k in graph.asset_check_keys if not graph.get_check_spec(k).description]
    assert not unsaid, unsaid
    # The operations assets show what they read.
    for key in (["reports", "monthly_inspection_report"], ["operations", "warehouse_backup"], ["audit", "mart_usage"]):
        assert graph.get(dg.AssetKey(key)).parent_keys, key


def test_in_process_runs_name_the_code_location_the_ui_filters_on():
    """laiou run's runs carry the location's label, as the daemon's do, so the UI's job pages list them."""
    import yaml

    from laiou_assets.keys import REPOSITORY_LABEL

    location = yaml.safe_load((Path(__file__).parents[1] / "workspace.yaml").read_text(encoding="utf-8"))["load_from"][
        0
    ]["python_module"]
    assert REPOSITORY_LABEL == f"{defs().get_repository_def().name}@{location['location_name']}"
