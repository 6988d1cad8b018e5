"""The one entry point: every definition under laiou_assets/defs/ plus the inspection layer in ops_checks/."""

from pathlib import Path

import dagster as dg

import ops_checks


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        ops_checks.defs(),
    )
