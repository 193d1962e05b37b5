"""Revoking an operator: their account stops at once, and every team they belonged to gets a new keypair.

Revocation is for a stolen laptop, a coerced volunteer, someone who left. Their sessions end (the caller does
that after the commit), their copies of team keys are deleted, and each of their teams gets a new keypair:
new cases are sealed to the new public key only, which the revoked operator never held. Creating it needs no
secret: the new private key is sealed to the remaining members' public keys and to the recovery key.

The cases sealed before stay readable: each remaining member keeps a copy of the old team key
(RetiredMembership) until the case keys sealed to it have been re-wrapped to the new one in the background
(cases/rewrap.py); then the old key is deleted everywhere, so a copy the revoked operator made of it opens
nothing in the store any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haven.accounts.models import (
    Membership,
    Operator,
    RetiredMembership,
    RetiredTeamKey,
    Team,
)
from haven.accounts.services import AccountError, UnlockedOperator, get_organisation
from haven.audit.services import Actor, record_event
from haven.clock import now_minute
from haven.crypto.keys import KeyPair, seal


@dataclass(frozen=True)
class Revocation:
    operator_id: int
    username: str
    rotated_team_ids: tuple[int, ...]


def revoke_operator(
    *, db_session: Session, operator_id: int, by: UnlockedOperator, now: datetime | None = None
) -> Revocation:
    """Deactivate the operator, delete their team keys and rotate every team they were in."""
    operator = db_session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("No such operator.")
    if operator.id == by.id:
        raise AccountError("You cannot revoke your own account; ask another admin.")
    if operator.revoked_at is not None:
        raise AccountError(f"{operator.username} is already revoked.")
    team_ids = tuple(
        db_session.scalars(
            select(Membership.team_id)
            .where(Membership.operator_id == operator_id)
            .order_by(Membership.team_id)
        )
    )
    operator.active = False
    operator.revoked_at = now_minute(now)
    db_session.execute(delete(Membership).where(Membership.operator_id == operator_id))
    db_session.execute(delete(RetiredMembership).where(RetiredMembership.operator_id == operator_id))
    for team_id in team_ids:
        team = db_session.get(Team, team_id)
        assert team is not None
        rotate_team_key(db_session=db_session, team=team, by=by.actor, now=now)
    record_event(
        db_session=db_session,
        actor=by.actor,
        action="operator.revoked",
        detail=f"operator={operator_id} teams={','.join(map(str, team_ids)) or '-'}",
        now=now,
    )
    return Revocation(operator_id, operator.username, team_ids)


def rotate_team_key(*, db_session: Session, team: Team, by: Actor, now: datetime | None = None) -> None:
    """Give the team a new keypair, sealed to each current member and to the recovery key; keep the old
    one, for the members only, until the re-wrap is done."""
    org = get_organisation(db_session=db_session)
    if org is None:
        raise AccountError("Create the organisation first (haven init).")
    old_generation = team.key_generation
    db_session.add(
        RetiredTeamKey(
            team_id=team.id,
            generation=old_generation,
            public_key=team.public_key,
            recovery_sealed_key=team.recovery_sealed_key,
            retired_at=now_minute(now),
        )
    )
    db_session.flush()  # the retired key exists before the copies that refer to it
    new = KeyPair.generate()
    members = db_session.execute(
        select(Membership, Operator.public_key)
        .join(Operator, Operator.id == Membership.operator_id)
        .where(Membership.team_id == team.id)
    ).all()
    for membership, operator_public_key in members:
        db_session.add(
            RetiredMembership(
                operator_id=membership.operator_id,
                team_id=team.id,
                generation=membership.key_generation,
                sealed_team_key=membership.sealed_team_key,
            )
        )
        membership.sealed_team_key = seal(new.private, operator_public_key)
        membership.key_generation = old_generation + 1
    team.public_key = new.public
    team.recovery_sealed_key = seal(new.private, org.recovery_public_key)
    team.key_generation = old_generation + 1
    record_event(
        db_session=db_session,
        actor=by,
        action="team.key_rotated",
        detail=f"team={team.slug} generation={team.key_generation}",
        now=now,
    )
