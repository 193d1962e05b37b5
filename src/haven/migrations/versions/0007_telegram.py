"""the Telegram bot: chats found by a slow hash, and the outbox of replies to deliver

telegram_chats holds, per chat, only a slow keyed hash of its chat id, the case it writes to and its state
locked under a key from the same hash. deliveries holds the state of each reply a channel must deliver.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_chats",
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=True),
        sa.Column("sealed_state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_telegram_chats_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_telegram_chats")),
    )
    op.create_index(op.f("ix_telegram_chats_case_id"), "telegram_chats", ["case_id"])
    op.create_index(op.f("ix_telegram_chats_updated_at"), "telegram_chats", ["updated_at"])
    op.create_table(
        "deliveries",
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_deliveries_record_id_records"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_deliveries_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_case_id"), "deliveries", ["case_id"])
    op.create_index(op.f("ix_deliveries_state"), "deliveries", ["state"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("telegram_chats")
