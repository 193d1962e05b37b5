"""An operator's keys of one team: the current team key, and the retired ones they still hold.

A case key is sealed to one generation of its team's keypair (CaseKey.key_generation). After a revocation
the team has a new keypair, and until the background re-wrap reaches a case its key is still sealed to the
old one: the remaining members open it with their copy of the retired key. Keys are unsealed only when a
case needs them, and only in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.models import Membership, RetiredMembership
from haven.accounts.services import UnlockedOperator
from haven.crypto.keys import DecryptionError, unseal


@dataclass
class TeamKeys:
    team_id: int
    current_generation: int
    _sealed: dict[int, bytes]  # generation -> the team key sealed to the operator
    _operator_private_key: bytes
    _opened: dict[int, bytes] = field(default_factory=dict)

    def key(self, generation: int) -> bytes:
        """The team's private key of that generation. Raises DecryptionError if the operator holds none."""
        opened = self._opened.get(generation)
        if opened is None:
            sealed = self._sealed.get(generation)
            if sealed is None:
                raise DecryptionError(f"no copy of generation {generation} of this team's key")
            opened = self._opened[generation] = unseal(sealed, self._operator_private_key)
        return opened

    @property
    def current(self) -> bytes:
        return self.key(self.current_generation)

    def open_case_key(self, sealed_case_key: bytes, generation: int) -> bytes:
        """A case's private key, from its copy sealed to this team. Raises DecryptionError."""
        return unseal(sealed_case_key, self.key(generation))

    @property
    def retired_generations(self) -> list[int]:
        return sorted(g for g in self._sealed if g != self.current_generation)


def held_team_keys(*, db_session: Session, operator: UnlockedOperator, team_id: int) -> TeamKeys | None:
    """The operator's keys of the team, or None if they are not a member."""
    membership = db_session.get(Membership, (operator.id, team_id))
    if membership is None:
        return None
    sealed = {
        generation: key
        for generation, key in db_session.execute(
            select(RetiredMembership.generation, RetiredMembership.sealed_team_key).where(
                RetiredMembership.operator_id == operator.id, RetiredMembership.team_id == team_id
            )
        )
    }
    sealed[membership.key_generation] = membership.sealed_team_key
    return TeamKeys(team_id, membership.key_generation, sealed, operator.private_key)
