"""the funnel's stages, channels and weeks, and the languages of requests, sealed

Each case now says where it came in (web or telegram) and the furthest funnel stage it reached; the
anonymous counters of purged cases gain both, and the week of arrival. language_tallies holds one sealed
row per new case (its language, sealed to the receiving team), which outlives the case's purge.

Existing cases take their channel from the audit log's `case.created` event. Their furthest stage is
known only where it shows now: verified if marked so, in progress if completed, else contacted. Purged
cases counted before this migration came in by the web as far as anyone can tell now, reached
"contacted", and are counted in the week that holds the first day of their month. Requests taken before
this migration have no language tally: their languages are sealed in them and nowhere else.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=False, server_default="web"))
        batch_op.add_column(
            sa.Column("reached", sa.String(length=12), nullable=False, server_default="contacted")
        )
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("channel", sa.String),
        sa.column("reached", sa.String),
        sa.column("verification", sa.String),
        sa.column("step", sa.String),
    )
    events = sa.table(
        "audit_events",
        sa.column("case_id", sa.String),
        sa.column("action", sa.String),
        sa.column("detail", sa.String),
    )
    telegram = sa.select(events.c.case_id).where(
        events.c.action == "case.created", events.c.detail == "telegram"
    )
    op.execute(cases.update().where(cases.c.id.in_(telegram)).values(channel="telegram"))
    op.execute(cases.update().where(cases.c.verification == "verified").values(reached="verified"))
    op.execute(cases.update().where(cases.c.step == "completed").values(reached="in_progress"))
    _rebuild_case_counts()
    op.create_table(
        "language_tallies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("key_generation", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("reached", sa.String(length=12), nullable=False),
        sa.Column("final_state", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_language_tallies_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_language_tallies_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_language_tallies")),
    )
    op.create_index(op.f("ix_language_tallies_case_id"), "language_tallies", ["case_id"], unique=True)
    op.create_index(op.f("ix_language_tallies_team_id"), "language_tallies", ["team_id"])


_OLD_KEY = ("month", "request_type", "final_state")
_NEW_KEY = ("month", "week", "request_type", "final_state", "channel", "reached")


def _rebuild_case_counts() -> None:
    """The primary key grows, so the table is rebuilt; each old row gets its month's first week."""
    old = sa.table(
        "case_counts",
        sa.column("month", sa.Date),
        sa.column("request_type", sa.String),
        sa.column("final_state", sa.String),
        sa.column("count", sa.Integer),
    )
    rows = [dict(r._mapping) for r in op.get_bind().execute(sa.select(old))]
    op.drop_table("case_counts")
    new = op.create_table(
        "case_counts",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("final_state", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("reached", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_NEW_KEY, name=op.f("pk_case_counts")),
    )
    if rows:
        op.bulk_insert(
            new,
            [
                {**row, "week": _monday(row["month"]), "channel": "web", "reached": "contacted"}
                for row in rows
            ],
        )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def downgrade() -> None:
    op.drop_index(op.f("ix_language_tallies_team_id"), table_name="language_tallies")
    op.drop_index(op.f("ix_language_tallies_case_id"), table_name="language_tallies")
    op.drop_table("language_tallies")
    old = sa.table(
        "case_counts",
        sa.column("month", sa.Date),
        sa.column("request_type", sa.String),
        sa.column("final_state", sa.String),
        sa.column("count", sa.Integer),
    )
    summed = list(
        op.get_bind().execute(
            sa.select(old.c.month, old.c.request_type, old.c.final_state, sa.func.sum(old.c.count)).group_by(
                old.c.month, old.c.request_type, old.c.final_state
            )
        )
    )
    op.drop_table("case_counts")
    table = op.create_table(
        "case_counts",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("final_state", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_OLD_KEY, name=op.f("pk_case_counts")),
    )
    if summed:
        op.bulk_insert(
            table,
            [{"month": m, "request_type": t, "final_state": f, "count": int(n)} for m, t, f, n in summed],
        )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("reached")
        batch_op.drop_column("channel")
