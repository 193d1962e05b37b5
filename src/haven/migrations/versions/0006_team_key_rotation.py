"""team key rotation: key generations, retired team keys, revoked operators

Revoking an operator gives each of their teams a new keypair. Case keys sealed to the old one are re-wrapped
in the background; until then the remaining members keep a copy of the old key (retired_memberships).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_GENERATION_COLUMNS = (
    ("teams", "key_generation"),
    ("memberships", "key_generation"),
    ("case_keys", "key_generation"),
)


def upgrade() -> None:
    for table, column in _GENERATION_COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default=sa.text("1")))
        # The server default only filled the rows already there; the models give new rows theirs.
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("operators") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    op.create_table(
        "retired_team_keys",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("recovery_sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "generation"),
    )
    op.create_table(
        "retired_memberships",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("sealed_team_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id", "generation"],
            ["retired_team_keys.team_id", "retired_team_keys.generation"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", "team_id", "generation"),
    )


def downgrade() -> None:
    op.drop_table("retired_memberships")
    op.drop_table("retired_team_keys")
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("revoked_at")
    for table, column in reversed(_GENERATION_COLUMNS):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(column)
