"""queue order served by indexes: priority_rank and partial indexes for open and closed cases

The first queue sorted by a CASE over `priority` and so read every matching case before returning a page;
with a million cases that is too slow. `priority_rank` stores the sort key, and two partial indexes
(open, closed) hand the queue its rows in order. case_keys gets an index on team_id, for the queue of a
team that holds few of the cases.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Frozen here as they were when this migration was written (cases.states.PRIORITY_RANK may change later).
_RANKS = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
_OPEN = sa.text("state <> 'closed'")
_CLOSED = sa.text("state = 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("priority_rank", sa.SmallInteger(), nullable=True))
    cases = sa.table("cases", sa.column("priority", sa.String), sa.column("priority_rank", sa.SmallInteger))
    op.execute(
        cases.update().values(priority_rank=sa.case(_RANKS, value=cases.c.priority, else_=_RANKS["normal"]))
    )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.alter_column("priority_rank", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.drop_index("ix_cases_queue")
    for name, where in (("ix_cases_open_queue", _OPEN), ("ix_cases_closed_queue", _CLOSED)):
        op.create_index(
            name,
            "cases",
            ["priority_rank", sa.text("created_at DESC"), "id"],
            sqlite_where=where,
            postgresql_where=where,
        )
    op.create_index("ix_case_keys_team_id", "case_keys", ["team_id"])


def downgrade() -> None:
    op.drop_index("ix_case_keys_team_id", table_name="case_keys")
    op.drop_index("ix_cases_closed_queue", table_name="cases")
    op.drop_index("ix_cases_open_queue", table_name="cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.create_index("ix_cases_queue", ["team_id", "state", "priority", "created_at"])
        batch_op.drop_column("priority_rank")
