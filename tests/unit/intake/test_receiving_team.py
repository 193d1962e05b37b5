"""Intake reads which team receives new requests at most every few seconds, not on every request."""

from __future__ import annotations

import time

from sqlalchemy import update

from haven.accounts.models import Team
from haven.intake.services import ReceivingTeam
from haven.runtime import Runtime
from tests.conftest import Org


def _set_intake_team(runtime: Runtime, slug: str) -> None:
    with runtime.db.write() as s:
        s.execute(update(Team).values(receives_intake=Team.slug == slug))


def _slug_of(runtime: Runtime, team_id: int) -> str:
    with runtime.db.read() as s:
        team = s.get(Team, team_id)
        assert team is not None
        return team.slug


def test_a_change_of_intake_team_reaches_intake_within_its_time(runtime: Runtime, org: Org) -> None:
    receiving = ReceivingTeam(runtime.db, seconds=0.2)
    first = receiving.current()
    assert first is not None
    assert _slug_of(runtime, first.id) == "intake"
    _set_intake_team(runtime, "legal")
    assert receiving.current() == first  # still the remembered one, for a moment
    time.sleep(0.3)
    now = receiving.current()
    assert now is not None
    assert _slug_of(runtime, now.id) == "legal"


def test_no_intake_team_is_asked_again_at_once(runtime: Runtime, org: Org) -> None:
    _set_intake_team(runtime, "nobody")
    receiving = ReceivingTeam(runtime.db, seconds=60)
    assert receiving.current() is None
    _set_intake_team(runtime, "intake")
    assert receiving.current() is not None  # a closed helpline opens as soon as a team receives intake
