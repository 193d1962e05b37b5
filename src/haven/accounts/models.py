"""Operators, teams and who belongs to which. Usernames are working pseudonyms, never real names."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, ForeignKeyConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class Role(StrEnum):
    OPERATOR = "operator"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Organisation(Base):
    """One row: the organisation and the public half of its offline recovery key."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    recovery_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The team's private key sealed to the organisation's recovery key, kept offline.
    recovery_sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    receives_intake: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    # Which keypair is current: a new one each time a member is revoked (accounts/revocation.py).
    key_generation: Mapped[int] = mapped_column(default=1)


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    role: Mapped[Role] = mapped_column(String(20))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # salt || nonce || XChaCha20-Poly1305(private key) under Argon2id(passphrase).
    locked_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    kdf_opslimit: Mapped[int]
    kdf_memlimit: Mapped[int]
    # The TOTP seed, locked under the server key so a database copy alone does not yield codes.
    locked_totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int] = mapped_column(default=0)
    must_change_passphrase: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Failed logins in a row, and until when (to the minute) the account refuses any (accounts/lockout.py).
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Set when an admin revoked the account (to the minute); a revoked account never logs in again.
    revoked_at: Mapped[datetime | None]


class Membership(Base):
    """An operator's copy of a team's private key, sealed to the operator's public key."""

    __tablename__ = "memberships"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    sealed_team_key: Mapped[bytes] = mapped_column(LargeBinary)
    granted_at: Mapped[datetime]
    # The generation of the team key sealed here (the team's current one).
    key_generation: Mapped[int] = mapped_column(default=1)


class RetiredTeamKey(Base):
    """A team keypair replaced after a revocation, kept until every case key sealed to it is re-wrapped
    to the current one; then deleted, so that whoever copied it can no longer open those cases."""

    __tablename__ = "retired_team_keys"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    recovery_sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    retired_at: Mapped[datetime]


class RetiredMembership(Base):
    """A remaining member's copy of a retired team key, so that they (and the re-wrap in the background,
    while they are logged in) still open the case keys not yet re-wrapped."""

    __tablename__ = "retired_memberships"
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "generation"],
            ["retired_team_keys.team_id", "retired_team_keys.generation"],
            ondelete="CASCADE",
        ),
    )

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(primary_key=True)
    sealed_team_key: Mapped[bytes] = mapped_column(LargeBinary)
