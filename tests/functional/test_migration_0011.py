"""Migration 0011 (published parts), on SQLite and PostgreSQL: the figures published before it counted every
case of their month, so each keeps its value and becomes the total (part ""); a part of a breakdown can then
be stored beside it, and going back keeps the totals only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from haven.db import Database
from haven.migrate import alembic_config, upgrade
from haven.stats.models import PublishedFigure

PUBLISHED_AT = datetime(2025, 6, 1, 9, 30)
BEFORE = [  # (month, figure, value, below, noisy) as revision 0010 stores them
    (date(2025, 3, 1), "contacted", 20, None, False),
    (date(2025, 3, 1), "completed", None, 10, False),
    (date(2025, 4, 1), "contacted", None, 10, True),
]


@pytest.fixture
def at_0010(empty_database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database at 0010, the revision before parts, holding three published figures."""
    database = Database.from_url(empty_database_url or f"sqlite:///{tmp_path / 'at-0010.db'}")
    upgrade(database, "0010")
    with database.engine.begin() as conn:
        for month, figure, value, below, noisy in BEFORE:
            conn.execute(
                text(
                    "INSERT INTO published_figures (month, figure, value, below, noisy, published_at)"
                    " VALUES (:month, :figure, :value, :below, :noisy, :at)"
                ),
                {
                    "month": month,
                    "figure": figure,
                    "value": value,
                    "below": below,
                    "noisy": noisy,
                    "at": PUBLISHED_AT,
                },
            )
    yield database
    database.dispose()


def stored(db: Database) -> list[tuple[date, str, str, int | None, int | None, bool]]:
    with db.read() as s:
        rows = s.scalars(select(PublishedFigure).order_by(PublishedFigure.month, PublishedFigure.figure))
        return [(f.month, f.figure, f.part, f.value, f.below, f.noisy) for f in rows]


def test_every_figure_published_before_becomes_its_months_total(at_0010: Database) -> None:
    upgrade(at_0010)

    assert stored(at_0010) == [
        (date(2025, 3, 1), "completed", "", None, 10, False),
        (date(2025, 3, 1), "contacted", "", 20, None, False),
        (date(2025, 4, 1), "contacted", "", None, 10, True),
    ]


def test_a_part_is_stored_beside_the_total_of_the_same_month_and_figure(at_0010: Database) -> None:
    upgrade(at_0010)

    with at_0010.write() as s:
        s.add(
            PublishedFigure(
                month=date(2025, 3, 1),
                figure="contacted",
                part="channel:telegram",
                value=None,
                below=10,
                noisy=False,
                published_at=PUBLISHED_AT,
            )
        )

    assert [row[2] for row in stored(at_0010) if row[1] == "contacted" and row[0] == date(2025, 3, 1)] == [
        "",
        "channel:telegram",
    ]


def test_going_back_keeps_the_totals_and_drops_the_parts(at_0010: Database) -> None:
    upgrade(at_0010)
    with at_0010.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO published_figures (month, figure, part, value, below, noisy, published_at)"
                " VALUES ('2025-03-01', 'contacted', 'type:legal', 20, NULL, false, :at)"
            ),
            {"at": PUBLISHED_AT},
        )

    config = alembic_config()
    with at_0010.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
        kept = conn.execute(text("SELECT month, figure, value, below FROM published_figures")).all()

    assert sorted((str(m), f, v, b) for m, f, v, b in kept) == [
        ("2025-03-01", "completed", None, 10),
        ("2025-03-01", "contacted", 20, None),
        ("2025-04-01", "contacted", None, 10),
    ]
