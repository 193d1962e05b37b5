"""Operators and teams: creating them, logging in, granting membership, changing a passphrase.

Creating a team or an operator needs public keys only. Granting a team to someone needs the team's
private key, so only a member of that team (or the offline recovery key) can grant it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts import lockout, totp
from haven.accounts.models import Membership, Operator, Organisation, RetiredMembership, Role, Team
from haven.audit.services import SYSTEM, Actor, record_event
from haven.clock import now_minute
from haven.crypto.kdf import SALT_BYTES, KdfParams, passphrase_key
from haven.crypto.keys import (
    DecryptionError,
    KeyPair,
    lock,
    lock_with_passphrase,
    seal,
    unlock,
    unlock_with_passphrase,
    unseal,
)
from haven.db import Database

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MIN_PASSPHRASE_CHARS = 12
_TOTP_CONTEXT = b"haven/totp-secret"


class AccountError(Exception):
    """A request about accounts that cannot be carried out; the message is safe to show."""


class LoginFailed(AccountError):
    """Username, passphrase or code wrong; deliberately does not say which."""


class UnknownOperator(LoginFailed):
    """No active operator has that username (told apart only inside the process, never to the caller)."""


@dataclass(frozen=True)
class UnlockedOperator:
    """An operator whose private key is open in this process, for one request or one session."""

    id: int
    username: str
    role: Role
    private_key: bytes

    @property
    def actor(self) -> Actor:
        return Actor("operator", self.id)


@dataclass(frozen=True)
class NewOperator:
    operator: Operator
    totp_secret: str


def create_organisation(*, db_session: Session, name: str, now: datetime | None = None) -> bytes:
    """Create the organisation row; returns the recovery private key, which the caller prints once."""
    if db_session.scalar(select(Organisation.id)) is not None:
        raise AccountError("this data directory already holds an organisation")
    recovery = KeyPair.generate()
    db_session.add(
        Organisation(id=1, name=name, recovery_public_key=recovery.public, created_at=now_minute(now))
    )
    record_event(db_session=db_session, actor=SYSTEM, action="org.created", now=now)
    return recovery.private


def get_organisation(*, db_session: Session) -> Organisation | None:
    return db_session.get(Organisation, 1)


def create_operator(
    *,
    db_session: Session,
    username: str,
    passphrase: str,
    role: Role,
    kdf: KdfParams,
    totp_key: bytes,
    must_change_passphrase: bool = False,
    by: Actor = SYSTEM,
    now: datetime | None = None,
) -> NewOperator:
    """Create an operator with a fresh keypair locked under their passphrase and a fresh TOTP seed."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise AccountError(
            "A username is 2–40 characters: lowercase letters, digits, dot, dash or underscore."
        )
    check_passphrase(passphrase)
    if db_session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise AccountError("That username is taken.")
    keys = KeyPair.generate()
    secret = totp.new_secret()
    operator = Operator(
        username=username,
        role=role,
        public_key=keys.public,
        locked_private_key=lock_with_passphrase(keys.private, passphrase, kdf),
        kdf_opslimit=kdf.opslimit,
        kdf_memlimit=kdf.memlimit,
        locked_totp_secret=lock(secret.encode("ascii"), totp_key, context=_TOTP_CONTEXT),
        must_change_passphrase=must_change_passphrase,
        created_at=now_minute(now),
    )
    db_session.add(operator)
    db_session.flush()
    record_event(db_session=db_session, actor=by, action="operator.created", detail=f"role={role}", now=now)
    return NewOperator(operator=operator, totp_secret=secret)


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise AccountError(
            f"A passphrase needs at least {MIN_PASSPHRASE_CHARS} characters; several words are best."
        )


def create_team(
    *,
    db_session: Session,
    slug: str,
    name: str,
    members: list[Operator],
    receives_intake: bool = False,
    by: Actor = SYSTEM,
    now: datetime | None = None,
) -> Team:
    """Create a team keypair, sealed to each first member and to the organisation's recovery key."""
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise AccountError("A team's short name is 2–40 characters: lowercase letters, digits or dashes.")
    if db_session.scalar(select(Team.id).where(Team.slug == slug)) is not None:
        raise AccountError("A team with that short name exists.")
    org = get_organisation(db_session=db_session)
    if org is None:
        raise AccountError("Create the organisation first (haven init).")
    keys = KeyPair.generate()
    team = Team(
        slug=slug,
        name=name.strip() or slug,
        public_key=keys.public,
        recovery_sealed_key=seal(keys.private, org.recovery_public_key),
        receives_intake=receives_intake,
        created_at=now_minute(now),
    )
    db_session.add(team)
    db_session.flush()
    for member in members:
        _add_member(db_session=db_session, team=team, operator=member, team_private_key=keys.private, now=now)
    record_event(db_session=db_session, actor=by, action="team.created", detail=f"team={team.slug}", now=now)
    return team


def _add_member(
    *, db_session: Session, team: Team, operator: Operator, team_private_key: bytes, now: datetime | None
) -> None:
    db_session.add(
        Membership(
            operator_id=operator.id,
            team_id=team.id,
            sealed_team_key=seal(team_private_key, operator.public_key),
            granted_at=now_minute(now),
            key_generation=team.key_generation,
        )
    )


def team_private_key(*, db_session: Session, operator: UnlockedOperator, team_id: int) -> bytes | None:
    """Open the team key through the operator's membership, or None if they are not a member."""
    membership = db_session.get(Membership, (operator.id, team_id))
    if membership is None:
        return None
    return unseal(membership.sealed_team_key, operator.private_key)


def grant_membership(
    *,
    db_session: Session,
    team_id: int,
    operator_id: int,
    by: UnlockedOperator,
    now: datetime | None = None,
) -> None:
    """Seal the team's key to another operator; `by` must be a member of the team."""
    team = db_session.get(Team, team_id)
    operator = db_session.get(Operator, operator_id)
    if team is None or operator is None:
        raise AccountError("No such team or operator.")
    if db_session.get(Membership, (operator_id, team_id)) is not None:
        raise AccountError(f"{operator.username} is already in {team.name}.")
    key = team_private_key(db_session=db_session, operator=by, team_id=team_id)
    if key is None:
        raise AccountError(f"Only a member of {team.name} can grant it: you do not hold its key.")
    _add_member(db_session=db_session, team=team, operator=operator, team_private_key=key, now=now)
    # The team's retired keys too, while some cases are still sealed to them (accounts/revocation.py).
    for retired in db_session.scalars(
        select(RetiredMembership).where(
            RetiredMembership.operator_id == by.id, RetiredMembership.team_id == team_id
        )
    ):
        db_session.add(
            RetiredMembership(
                operator_id=operator.id,
                team_id=team_id,
                generation=retired.generation,
                sealed_team_key=seal(unseal(retired.sealed_team_key, by.private_key), operator.public_key),
            )
        )
    record_event(
        db_session=db_session,
        actor=by.actor,
        action="team.granted",
        detail=f"team={team.slug} operator={operator.id}",
        now=now,
    )


def authenticate(
    *,
    db: Database,
    username: str,
    passphrase: str,
    code: str,
    totp_key: bytes,
    kdf: KdfParams,
    now: datetime | None = None,
) -> UnlockedOperator:
    """Check passphrase and one-time code and open the operator's private key.

    Argon2id (most of a second, by design) runs outside any transaction: on SQLite a write transaction
    holds the one writer lock, and intake must never wait for somebody's login. The one-time code is
    checked and spent in a short write transaction afterwards.

    Raises LoginFailed (UnknownOperator for a username nobody has), or AccountLocked while the account is
    locked, before the passphrase is tried. A failure is not counted here: the caller counts it in a
    transaction of its own (lockout.record_failed_login).
    """
    with db.read() as s:
        operator = s.scalar(select(Operator).where(Operator.username == username.strip().lower()))
    if operator is None or not operator.active:
        # Spend the same Argon2id time as a real attempt, so timing does not reveal who has an account.
        passphrase_key(passphrase, bytes(SALT_BYTES), kdf)
        raise UnknownOperator
    lockout.refuse_if_locked(operator, now=now)
    try:
        private_key = unlock_with_passphrase(
            operator.locked_private_key, passphrase, KdfParams(operator.kdf_opslimit, operator.kdf_memlimit)
        )
    except DecryptionError:
        raise LoginFailed from None
    with db.write() as s:
        row = s.get(Operator, operator.id)
        if row is None or not row.active:
            raise LoginFailed
        lockout.refuse_if_locked(row, now=now)
        secret = unlock(row.locked_totp_secret, totp_key, context=_TOTP_CONTEXT).decode("ascii")
        step = totp.matching_step(secret, code, last_step=row.totp_last_step, now=now)
        if step is None:
            raise LoginFailed
        row.totp_last_step = step
        lockout.clear_failures(row)
        unlocked = UnlockedOperator(row.id, row.username, Role(row.role), private_key)
        record_event(db_session=s, actor=unlocked.actor, action="operator.login", now=now)
    return unlocked


def change_passphrase(
    *,
    db_session: Session,
    operator: UnlockedOperator,
    current: str,
    new: str,
    kdf: KdfParams,
    now: datetime | None = None,
) -> None:
    """Re-lock the operator's private key under a new passphrase (the keypair itself stays)."""
    row = db_session.get(Operator, operator.id)
    if row is None:
        raise AccountError("No such operator.")
    check_passphrase(new)
    try:
        unlock_with_passphrase(row.locked_private_key, current, KdfParams(row.kdf_opslimit, row.kdf_memlimit))
    except DecryptionError:
        raise AccountError("The current passphrase is not right.") from None
    row.locked_private_key = lock_with_passphrase(operator.private_key, new, kdf)
    row.kdf_opslimit, row.kdf_memlimit = kdf.opslimit, kdf.memlimit
    row.must_change_passphrase = False
    record_event(db_session=db_session, actor=operator.actor, action="operator.passphrase_changed", now=now)


def list_operators(*, db_session: Session) -> list[Operator]:
    return list(db_session.scalars(select(Operator).order_by(Operator.username)))


def list_teams(*, db_session: Session) -> list[Team]:
    return list(db_session.scalars(select(Team).order_by(Team.name)))


def memberships(*, db_session: Session) -> set[tuple[int, int]]:
    """(operator id, team id) pairs."""
    return {(m.operator_id, m.team_id) for m in db_session.scalars(select(Membership))}


def teams_of(*, db_session: Session, operator_id: int) -> list[Team]:
    return list(
        db_session.scalars(
            select(Team)
            .join(Membership, Membership.team_id == Team.id)
            .where(Membership.operator_id == operator_id)
        )
    )


def intake_team(*, db_session: Session) -> Team | None:
    return db_session.scalars(select(Team).where(Team.receives_intake.is_(True)).order_by(Team.id)).first()
