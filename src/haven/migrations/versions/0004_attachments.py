"""attachments: files sent with a message, sealed like every record

Each row is one file: its id, its case, the message it came with and the minute it came, in the clear;
its bytes (a photo re-encoded without metadata) under a fresh key sealed to the case. Its name, type and
size are inside the message's own sealed record, never in a column.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_attachments_record_id_records"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments") as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_case_id"))
    op.drop_table("attachments")
