"""anonymous counters that outlive purged cases, and an index to find expired cases

case_counts holds, for purged cases only, how many there were by month of arrival, request type and final
state: a case moves from `cases` to a count in the transaction that shreds it. cases.updated_at (the last
activity) gets an index, so the purge and its dry run read only the cases old enough to expire.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_counts",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("final_state", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "request_type", "final_state", name=op.f("pk_case_counts")),
    )
    op.create_index("ix_cases_updated_at", "cases", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_updated_at", table_name="cases")
    op.drop_table("case_counts")
