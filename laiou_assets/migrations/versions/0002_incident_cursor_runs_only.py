"""incident_watch reads check evaluations per finished run (ops_checks/events.py), so its cursor keeps only
the last run seen: audit.incident_cursor.checks goes.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table audit.incident_cursor drop column if exists checks")
    op.execute(
        "comment on column audit.incident_cursor.runs is 'the Dagster event that ended the last run turned "
        "into incidents (its storage id)'"
    )
