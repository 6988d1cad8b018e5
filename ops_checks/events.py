"""What the Dagster instance recorded: runs that ended, in the order they ended, and each run's check
evaluations. Read through Dagster's public run-status records and per-run records: Dagster 1.13 has no
public, non-deprecated reader of check evaluations across runs (`get_event_records` is deprecated), and
every check evaluation belongs to a run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

ET = dg.DagsterEventType
ENDED = (ET.RUN_SUCCESS, ET.RUN_FAILURE, ET.RUN_CANCELED)
BATCH = 1000


@dataclass(frozen=True)
class EndedRun:
    storage_id: int  # of the event that ended it: a cursor
    run_id: str
    outcome: dg.DagsterEventType
    timestamp: float
    message: str  # the failure's message, or ""


def runs_ended_after(instance: dg.DagsterInstance, after: int) -> Iterator[EndedRun]:
    """Every run that ended (succeeded, failed or was canceled) after the event `after`, oldest first."""
    while True:
        batches = {
            outcome: instance.fetch_run_status_changes(
                dg.RunStatusChangeRecordsFilter(event_type=outcome, after_storage_id=after or None),
                limit=BATCH,
                ascending=True,
            ).records
            for outcome in ENDED
        }
        # A full batch of one outcome ends where the others may go on: stop there, read on from it.
        full = [records[-1].storage_id for records in batches.values() if len(records) == BATCH]
        upto = min(full) if full else None
        ended = sorted(
            (
                EndedRun(
                    r.storage_id,
                    r.event_log_entry.run_id,
                    outcome,
                    r.timestamp,
                    (r.event_log_entry.dagster_event.message or "") if outcome == ET.RUN_FAILURE else "",
                )
                for outcome, records in batches.items()
                for r in records
                if upto is None or r.storage_id <= upto
            ),
            key=lambda e: e.storage_id,
        )
        yield from ended
        if upto is None:
            return
        after = upto


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[tuple[dg.AssetCheckEvaluation, float]]:
    """The run's check evaluations, in order, with their time."""
    found, cursor = [], None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, of_type=ET.ASSET_CHECK_EVALUATION, limit=BATCH)
        found += [
            (r.event_log_entry.dagster_event.event_specific_data, r.event_log_entry.timestamp) for r in page.records
        ]
        if not page.has_more:
            return found
        cursor = page.cursor


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's step-failure records, read once for both questions below."""
    return instance.get_records_for_run(run_id, of_type=ET.STEP_FAILURE).records


def failed_only_by_checks(failures: list) -> bool:
    """The run failed because blocking checks failed, nothing else (its data steps succeeded)."""
    return bool(failures) and all(
        getattr(r.event_log_entry.dagster_event.event_specific_data.error, "cls_name", None)
        == "DagsterAssetCheckFailedError"
        for r in failures
    )


def failure_reasons(failures: list) -> str:
    """Why the run's steps failed, on one line: each failed step with its failure's own description (a load's
    names the file and what is wrong with it) or else its error's message."""
    reasons = []
    for record in failures:
        event = record.event_log_entry.dagster_event
        failure = event.event_specific_data
        user = failure.user_failure_data
        text = user.description if user and user.description else (failure.error.message if failure.error else "")
        reasons.append(f"{event.step_key}: {' '.join(text.split()) or 'failed'}")
    return "; ".join(reasons)


def crash_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """How the run's process died, when it failed with no step failing: the code server's note ("Run execution
    process for … was terminated by signal 9 (SIGKILL).") rather than Dagster's "marked as failed from outside
    the execution context"; or ""."""
    for record in instance.get_records_for_run(run_id, of_type=ET.ENGINE_EVENT, ascending=False).records:
        message = record.event_log_entry.dagster_event.message or ""
        if "Run execution process for " in message:  # prefixed with the reporter's class, "[DagsterApiServer] "
            return message[message.index("Run execution process for ") :]
    return ""
