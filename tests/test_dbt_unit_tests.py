"""The dbt unit tests (each rule on fixed rows, models/*/_*__unit_tests.yml) run here, once per `make test`:
laiou's own builds leave them out (defs/dbt/assets.start_dbt), as dbt advises for production."""

import json
import subprocess
from pathlib import Path

import psycopg
import yaml

from laiou_assets import migrations, settings
from laiou_assets.access import ensure_roles
from tests.marts_access import dbt_command


def unit_tests_in_the_project() -> set[str]:
    names = set()
    for path in (settings.DBT_PROJECT_DIR / "models").rglob("*.yml"):
        names |= {test["name"] for test in yaml.safe_load(path.read_text(encoding="utf-8")).get("unit_tests", [])}
    return names


def dbt(url: str, tmp_path: Path, *args: str) -> None:
    argv, env = dbt_command(url, tmp_path, *args)
    done = subprocess.run(argv, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}"


def test_every_dbt_unit_test_passes(laiou_env, tmp_path):
    url = laiou_env["LAIOU_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        migrations.ensure_current(conn)
        ensure_roles(conn)
    # Unit tests read their inputs' column types from the warehouse: the seeds and empty models give them.
    # The tax facts after the others, as laiou builds them: their post-hook's policy reads dim_enterprise.
    dbt(url, tmp_path, "seed")
    dbt(url, tmp_path, "run", "--empty", "--exclude", "fct_tax_monthly")
    dbt(url, tmp_path, "run", "--empty", "--select", "fct_tax_monthly")
    dbt(url, tmp_path, "test", "--select", "test_type:unit")
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    passed = {r["unique_id"].split(".")[-1] for r in results if r["status"] == "pass"}
    expected = unit_tests_in_the_project()
    assert len(expected) >= 12  # R3, R4, R7–R12, R14 at least (issue #15)
    assert passed == expected
