"""The answers to "Did we help?", counted for a coordinator from the cases their teams hold.

Unlike the other figures, these are sealed (a requester's answer is theirs), so counting them opens each
answer with the coordinator's own keys, in this request only: the count covers the cases shared with
their teams, never more, and nothing decrypted is kept.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from haven.accounts.services import UnlockedOperator
from haven.cases import services as cases
from haven.cases.models import CaseKey, Record
from haven.cases.records import RecordKind
from haven.db import Database


def feedback_answers(*, db: Database, operator: UnlockedOperator) -> Counter[str]:
    """How many answered yes and no, over the cases shared with the operator's teams (each case once)."""
    answers: dict[str, bool] = {}
    with db.read() as s:
        for team_id in cases.team_ids(db_session=s, operator=operator):
            seqs = list(
                s.scalars(
                    select(Record.seq)
                    .join(CaseKey, CaseKey.case_id == Record.case_id)
                    .where(CaseKey.team_id == team_id, Record.kind == RecordKind.FEEDBACK.value)
                )
            )
            if not seqs:
                continue
            for shared in cases.open_picked_records(
                db_session=s, operator=operator, team_id=team_id, seqs=seqs
            ):
                answers[shared.case_id] = bool(shared.record.content.get("helped"))
    return Counter("yes" if helped else "no" for helped in answers.values())
