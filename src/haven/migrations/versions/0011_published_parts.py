"""published figures per part: by request type and by channel, beside the totals

A published figure now says which cases it counts: "" for all of them (every figure published so far),
"type:<request type>" or "channel:<web|telegram>" for one part of a breakdown. The part joins the primary
key, so the table is rebuilt; the figures already published keep their values and get the part "".

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_COLUMNS = ("month", "figure", "value", "below", "noisy", "published_at")


def _old_shape() -> sa.TableClause:
    return sa.table(
        "published_figures",
        sa.column("month", sa.Date),
        sa.column("figure", sa.String),
        sa.column("part", sa.String),
        sa.column("value", sa.Integer),
        sa.column("below", sa.Integer),
        sa.column("noisy", sa.Boolean),
        sa.column("published_at", sa.DateTime),
    )


def _create(*key: str) -> sa.Table:
    parts = [sa.Column("part", sa.String(length=50), nullable=False)] if "part" in key else []
    return op.create_table(
        "published_figures",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(length=40), nullable=False),
        *parts,
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("below", sa.Integer(), nullable=True),
        sa.Column("noisy", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_published_figures")),
    )


def upgrade() -> None:
    table = _old_shape()
    rows = [dict(r._mapping) for r in op.get_bind().execute(sa.select(*(table.c[c] for c in _COLUMNS)))]
    op.drop_table("published_figures")
    new = _create("month", "figure", "part")
    if rows:
        op.bulk_insert(new, [{**row, "part": ""} for row in rows])


def downgrade() -> None:
    """Back to totals only: the parts' figures are dropped (they were drawn, and their budget spent)."""
    table = _old_shape()
    rows = [
        dict(r._mapping)
        for r in op.get_bind().execute(sa.select(*(table.c[c] for c in _COLUMNS)).where(table.c.part == ""))
    ]
    op.drop_table("published_figures")
    old = _create("month", "figure")
    if rows:
        op.bulk_insert(old, rows)
