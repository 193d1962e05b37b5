"""login lockout: failed_logins and locked_until on operators

After five failed logins in a row an account refuses every attempt for a while, longer each time, until
the lock expires or an admin lifts it. Only the count and the end of the lock (to the minute) are stored:
nothing about who tried.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    # The server default only filled the rows already there; the models give new rows their 0.
    with op.batch_alter_table("operators") as batch_op:
        batch_op.alter_column("failed_logins", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
