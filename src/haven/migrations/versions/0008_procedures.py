"""procedures: each case's step, its due time, check-ins, verification; links between cases

A case now walks through a procedure (cases/procedure.py). Existing cases are placed in their request
type's shipped procedure: open ones at its first step, due a day after their last activity; closed ones
keep no step, since nobody recorded how they ended. The open queue's index gains the due time, which now
orders cases within a priority.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Frozen as shipped when this migration was written (questionnaires.toml may map types differently later).
_PROCEDURE_OF_TYPE = {
    "leave_service": "leave_service",
    "avoid_mobilisation": "avoid_mobilisation",
    "relative": "relative_request",
    "legal": "legal_consultation",
    "support": "psychological_support",
    "other": "general_request",
}
# The first step of each, as shipped then.
_FIRST_STEP = {
    "leave_service": "first_contact",
    "avoid_mobilisation": "first_contact",
    "relative_request": "first_contact",
    "legal_consultation": "screening",
    "psychological_support": "intake",
    "general_request": "first_contact",
}
_OPEN = sa.text("state <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("procedure", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("step", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("step_entered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("check_in_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("check_in_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("check_in_missed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("verification", sa.String(length=12), nullable=False, server_default="unverified")
        )
        batch_op.add_column(sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()))
    cases = sa.table(
        "cases",
        sa.column("request_type", sa.String),
        sa.column("state", sa.String),
        sa.column("procedure", sa.String),
        sa.column("step", sa.String),
        sa.column("updated_at", sa.DateTime),
        sa.column("step_entered_at", sa.DateTime),
        sa.column("due_at", sa.DateTime),
    )
    day_later = (
        sa.func.datetime(cases.c.updated_at, "+1 day")
        if op.get_bind().dialect.name == "sqlite"
        else cases.c.updated_at + sa.text("interval '1 day'")
    )
    op.execute(
        cases.update().values(
            procedure=sa.case(_PROCEDURE_OF_TYPE, value=cases.c.request_type, else_=""),
            step_entered_at=cases.c.updated_at,
            due_at=day_later,
        )
    )
    op.execute(
        cases.update()
        .where(cases.c.state != "closed")
        .values(step=sa.case(_FIRST_STEP, value=cases.c.procedure, else_=""))
    )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.alter_column("step_entered_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column("due_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_index("ix_cases_check_in_due_at", ["check_in_due_at"])
    op.drop_index("ix_cases_open_queue", table_name="cases")
    op.create_index(
        "ix_cases_open_queue",
        "cases",
        ["priority_rank", "due_at", sa.text("created_at DESC"), "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "case_links",
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("linked_id", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_links_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["linked_id"], ["cases.id"], name=op.f("fk_case_links_linked_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "linked_id", name=op.f("pk_case_links")),
    )
    op.create_index(op.f("ix_case_links_linked_id"), "case_links", ["linked_id"])


def downgrade() -> None:
    op.drop_table("case_links")
    op.drop_index("ix_cases_open_queue", table_name="cases")
    op.create_index(
        "ix_cases_open_queue",
        "cases",
        ["priority_rank", sa.text("created_at DESC"), "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_check_in_due_at")
        for column in (
            "restricted",
            "verification",
            "check_in_missed",
            "check_in_due_at",
            "check_in_hours",
            "due_at",
            "step_entered_at",
            "step",
            "procedure",
        ):
            batch_op.drop_column(column)
