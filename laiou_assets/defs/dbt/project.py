"""The one dbt project object shared by the dbt assets and the dbt CLI resource."""

from __future__ import annotations

import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from laiou_assets.settings import DBT_PROJECT_DIR


def dbt_executable() -> str:
    """The dbt installed in this Python environment, so a venv that is not activated works too."""
    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).parent / "dbt"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("dbt")
    if found is None:
        raise FileNotFoundError(
            f"dbt is not installed in {sys.prefix} nor on PATH: run `make install` (pip install -e '.[dev]')"
        )
    return found


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        # Outside `dagster dev` nothing parses the project; do it once rather than fail to load.
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return project


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
