"""A case's states and the one table of moves between them."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # waiting for the requester
    CLOSED = "closed"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Lower sorts first in the queue.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.NEW: frozenset({CaseState.IN_PROGRESS, CaseState.WAITING, CaseState.CLOSED}),
    CaseState.IN_PROGRESS: frozenset({CaseState.WAITING, CaseState.CLOSED}),
    CaseState.WAITING: frozenset({CaseState.IN_PROGRESS, CaseState.CLOSED}),
    # A closed case reopens when someone writes in it again: nobody's message is dropped.
    CaseState.CLOSED: frozenset({CaseState.IN_PROGRESS}),
}


class InvalidTransition(ValueError):
    def __init__(self, current: CaseState, target: CaseState) -> None:
        super().__init__(f"A case cannot move from {current.value} to {target.value}.")
        self.current = current
        self.target = target


def check_transition(current: CaseState, target: CaseState) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
