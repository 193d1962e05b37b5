"""published figures and the privacy budget they spent

Public numbers are drawn once and stored (published_figures), with the epsilon each one spent
(privacy_charges) when the organisation publishes with differential privacy.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "published_figures",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("below", sa.Integer(), nullable=True),
        sa.Column("noisy", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("month", "figure", name=op.f("pk_published_figures")),
    )
    op.create_table(
        "privacy_charges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("what", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_charges")),
    )
    op.create_index(op.f("ix_privacy_charges_period_start"), "privacy_charges", ["period_start"])


def downgrade() -> None:
    op.drop_table("privacy_charges")
    op.drop_table("published_figures")
