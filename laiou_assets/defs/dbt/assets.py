"""The dbt project (staging → intermediate → marts) as Dagster assets; dbt tests become asset checks."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from laiou_assets import keys, migrations, settings
from laiou_assets.access import ensure_roles
from laiou_assets.defs.automation.conditions import BUILD_TAX_MONTH_WHEN_UPDATED, BUILD_WHEN_UPDATED
from laiou_assets.defs.automation.freshness import MARTS_CURRENT_A_DAY_LATER
from laiou_assets.defs.dbt.project import dbt_executable, dbt_project, dbt_resource
from laiou_assets.partitions import monthly_partitions
from laiou_assets.resources import WarehouseResource
from laiou_assets.warehouse import BUILD_LOCK, advisory_lock, dbt_env
from ops_checks.dbt_tests import sentence

LAYER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class LaiouDbtTranslator(DagsterDbtTranslator):
    """Keys are schema/name (marts/dim_enterprise); groups follow the dbt folders; seeds go to `reference`.
    Descriptions are the project's bilingual ones: a model's without its SQL appended (the UI shows the SQL
    under its own tab), a test's as the sentence the reports use."""

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_resource_props.get("description") or super().get_description(dbt_resource_props)

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id)
        if spec is None or node is None:
            return spec
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=sentence(node),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
        )

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id)
        if node is None:  # a source: keeps the raw feed asset key from meta.dagster.asset_key
            return spec
        if node["resource_type"] == "seed":
            return spec.replace_attributes(
                key=dg.AssetKey(["reference", node["name"]]),
                group_name="reference",
                automation_condition=BUILD_WHEN_UPDATED,
            )
        layer = node["fqn"][1] if len(node["fqn"]) > 2 else "marts"
        return spec.replace_attributes(
            key=dg.AssetKey([node["schema"], node["name"]]),
            group_name=LAYER_GROUPS.get(layer, layer),
            automation_condition=BUILD_TAX_MONTH_WHEN_UPDATED if node["name"] == TAX_FACTS else BUILD_WHEN_UPDATED,
            freshness_policy=MARTS_CURRENT_A_DAY_LATER if layer == "marts" else None,
        )


# Incremental by month on the feeds' monthly partitions: one partition rebuilds one tax month (R12 facts).
TAX_FACTS = "fct_tax_monthly"
TAX_FACTS_KEY = keys.TAX_FACTS


def dbt_target_dir(warehouse_env: Mapping[str, str]) -> Path:
    """Where dagster-dbt gives each run its target folder for this warehouse (`dbt_env`): under
    $LAIOU_HOME/dbt/, one folder per connection, so that a partial-parse file made for it stays valid (dbt
    parses the whole project again, 6 s, whenever the connection differs from the one the file was made with)."""
    key = "|".join(warehouse_env[k] for k in ("LAIOU_PG_HOST", "LAIOU_PG_PORT", "LAIOU_PG_USER", "LAIOU_PG_DBNAME"))
    return settings.laiou_home() / "dbt" / f"target-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _prepare(warehouse: WarehouseResource, warehouse_env: Mapping[str, str]) -> Path:
    with warehouse.connect() as conn:
        migrations.ensure_current(conn)  # building before the first load gives empty marts, not a missing relation
        ensure_roles(conn)  # dbt's grants name them
    target = dbt_target_dir(warehouse_env)
    if not (target / "partial_parse.msgpack").exists():
        seed_partial_parse(target, warehouse_env)
    return target


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ holds `variables` while dagster-dbt starts dbt, then is as it was. dagster-dbt 0.29 gives a
    run no environment of its own: the dbt process gets a copy of os.environ when `dbt.cli` starts it, so the
    variables reach that process and no later run of this one (a run's tax months, its warehouse)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_dbt(dbt: DbtCliResource, args: list[str], context, warehouse: WarehouseResource, **variables: str):
    """dbt started for this run: its warehouse in the variables profiles.yml reads, its partial-parse file
    in place, the dbt unit tests left out (they test the SQL on fixed rows, not the data: `make test` runs
    them once, tests/test_dbt_unit_tests.py, as dbt advises for production builds)."""
    warehouse_env = dbt_env(warehouse.url())  # profiles.yml reads these
    target = _prepare(warehouse, warehouse_env)
    with environment({**warehouse_env, **variables}):
        argv = [*args, "--exclude-resource-type", "unit_test"]
        return dbt.cli(argv, context=context, target_path=run_target(target, context))


def run_target(target: Path, context: dg.AssetExecutionContext) -> Path:
    """This run's dbt target folder, holding the warehouse's partial-parse file before dbt starts: dagster-dbt
    then leaves it (it copies the project's own, made for another connection, only into an empty folder), and
    dbt parses only what changed."""
    folder = target / f"{context.run.job_name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    folder.mkdir(parents=True)
    if (target / "partial_parse.msgpack").exists():
        shutil.copy(target / "partial_parse.msgpack", folder / "partial_parse.msgpack")
    return folder


def seed_partial_parse(target: Path, warehouse_env: Mapping[str, str]) -> None:
    """`dbt parse` for this warehouse into a scratch folder, its partial_parse.msgpack then moved into place
    (two processes seeding at once each move a whole file)."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        argv = [dbt_executable(), "parse", "--quiet", "--target-path", scratch]
        env = {**os.environ, **warehouse_env, "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR)}
        if subprocess.run(argv, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True).returncode == 0:
            os.replace(Path(scratch) / "partial_parse.msgpack", target / "partial_parse.msgpack")


class BuildConfig(dg.Config):
    """What a build of the models may be asked besides building: `laiou publish` freezes a year's figures."""

    publish_year: int = 0  # the year published_figures appends (0: none, the usual build)
    full_refresh: bool = False  # rebuild the incremental models whole (int_tax_vouchers; docs/runbook.md)


def one_build_at_a_time(warehouse: WarehouseResource, context: dg.AssetExecutionContext):
    """dbt builds serialize on the warehouse (a `laiou run` and the daemon's schedule, two runs)."""
    holder = f"dagster run {context.run.run_id[:8]} (dbt build)"
    return advisory_lock(warehouse.url(), BUILD_LOCK, holder, say=context.log.info)


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=LaiouDbtTranslator(),
    exclude=TAX_FACTS,
)
def laiou_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: BuildConfig
):
    """Builds and tests the dbt models (all but the monthly tax facts) against the warehouse."""
    # The tax facts' tests read models built here too (tax_conserved_in_facts reads int_tax_counted): on a
    # subset dbt would run them now, before the next run refreshes the facts, and they would fail. Excluding
    # the facts excludes their tests (dbt's eager indirect selection).
    args = ["build", "--exclude", TAX_FACTS]
    if config.full_refresh:
        args.append("--full-refresh")
    if config.publish_year:  # models/marts/published_figures.sql appends that year's figures
        args += ["--vars", json.dumps({"publish_year": config.publish_year, "dagster_run_id": context.run.run_id})]
    with one_build_at_a_time(warehouse, context):
        yield from start_dbt(dbt, args, context, warehouse).stream()


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=LaiouDbtTranslator(),
    select=TAX_FACTS,
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="laiou_tax_facts",
)
def laiou_tax_facts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Rebuilds the tax months of the partition (or of a whole range, in one run) in marts.fct_tax_monthly."""
    window = context.partition_key_range  # month starts, both included; macros/tax_window.sql reads them
    months = {"LAIOU_DBT_TAX_FROM": window.start, "LAIOU_DBT_TAX_TO": window.end}
    with one_build_at_a_time(warehouse, context):
        yield from start_dbt(dbt, ["build"], context, warehouse, **months).stream()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[laiou_dbt_models, laiou_tax_facts], resources={"dbt": dbt_resource()})
