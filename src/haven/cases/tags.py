"""Tags on a case: words operators choose (needs-lawyer, relative-of-1234), sealed in the case like a note.

An operator wrote them, so they are content: the store holds them only sealed, as a TAGS record whose last
version counts. Search (cases/search.py) finds a case by its tags, since the record carries them as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from haven.accounts.services import UnlockedOperator
from haven.audit.services import record_event
from haven.cases.records import OpenedRecord, RecordKind, build_record
from haven.cases.services import accessible_case
from haven.clock import now_minute
from haven.db import Database

MAX_TAGS = 20
MAX_TAG_CHARS = 40
_SPACES = re.compile(r"\s+")


class TagsRefused(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def clean_tags(raw: Sequence[str]) -> list[str]:
    """Tags as stored: trimmed, inner spaces as hyphens, lower case, each once, in the order given."""
    tags: list[str] = []
    for tag in raw:
        clean = _SPACES.sub("-", tag.strip().lower())
        if not clean or clean in tags:
            continue
        if len(clean) > MAX_TAG_CHARS:
            raise TagsRefused(f"A tag has at most {MAX_TAG_CHARS} characters.")
        tags.append(clean)
    if len(tags) > MAX_TAGS:
        raise TagsRefused(f"A case has at most {MAX_TAGS} tags.")
    return tags


def parse_tags(text: str) -> list[str]:
    """Tags typed in one field, separated by commas."""
    return clean_tags(text.split(","))


def set_tags(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    tags: Sequence[str],
    now: datetime | None = None,
) -> list[str]:
    """Replace the case's tags; returns them as stored. One audit event, without the tags."""
    clean = clean_tags(tags)
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        s.add(
            build_record(
                case=case,
                kind=RecordKind.TAGS,
                content={"tags": clean, "text": " ".join(clean)},
                author_id=operator.id,
                now=now,
            )
        )
        case.updated_at = now_minute(now)
        record_event(db_session=s, actor=operator.actor, action="case.tags", case_id=case.id, now=now)
    return clean


def tags_of(records: Sequence[OpenedRecord]) -> list[str]:
    """The case's tags: its last TAGS record's (none if it has none)."""
    found = [r for r in records if r.kind is RecordKind.TAGS]
    return [str(t) for t in found[-1].content.get("tags", [])] if found else []
