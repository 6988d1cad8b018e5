"""The one entry point: every definition under laiou_assets/defs/ plus the inspection layer in ops_checks/."""

from pathlib import Path

import dagster as dg

import ops_checks


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        ops_checks.defs(),
        # Each run's steps in the run's own process: a process per step costs seconds of start-up each (a
        # month's load is four steps), and the steps of one run share the warehouse, not the cores.
        dg.Definitions(executor=dg.in_process_executor),
    )
