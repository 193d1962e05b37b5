"""The desk's words for a case's procedure: step names, due times, move buttons and the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from haven.cases import timeline
from haven.cases.procedure import OUTCOMES, Procedure, Procedures
from haven.clock import now_minute
from haven.runtime import Runtime

OUTCOME_WORDS = {
    "completed": "completed",
    "withdrawn": "withdrawn",
    "no_contact": "no contact",
    "rejected_provocation": "probable provocation",
    "merged": "merged into another case",
}


def step_name(procedures: Procedures, procedure_id: str, position: str) -> str:
    """A case's place in words: the step's English name, or how it ended."""
    procedure = procedures.get(procedure_id)
    return _position_name(procedure, position)


def _position_name(procedure: Procedure | None, position: str) -> str:
    if position in OUTCOMES:
        return f"Ended: {OUTCOME_WORDS.get(position, position)}"
    step = procedure.step(position) if procedure else None
    return step.names["en"] if step else position.replace("_", " ")


def _span(delta: timedelta) -> str:
    hours, minutes = divmod(int(abs(delta.total_seconds()) // 60), 60)
    if hours == 0:
        return f"{minutes} min"
    if hours < 10 and minutes:  # near at hand, to the minute
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def due_words(due_at: datetime | None, now: datetime) -> str:
    """ "due in 3 h" or "overdue by 2 h", from `now`."""
    if due_at is None:
        return ""
    return f"due in {_span(due_at - now)}" if due_at >= now else f"overdue by {_span(now - due_at)}"


def move_label(procedure: Procedure | None, position: str, target: str) -> str:
    """The words on a move's button: a step by its name, an outcome as "End: …", a way back as "Reopen"."""
    if target in OUTCOMES:
        return f"End: {OUTCOME_WORDS.get(target, target)}"
    if position in OUTCOMES:
        return f"Reopen: {_position_name(procedure, target)}"
    return _position_name(procedure, target)


def row_words(runtime: Runtime, now: datetime | None = None) -> dict[str, Any]:
    """What desk/case_rows.html needs to word a row's step and due time."""
    return {
        "now": now or now_minute(),
        "due_words": due_words,
        "step_name": partial(step_name, runtime.procedures),
    }


@dataclass(frozen=True)
class Line:
    at: datetime
    text: str


# The timeline's words for an event (without "case."), filled with who did it and the event's detail.
MOMENT_WORDS = {
    "inbound": "Requester wrote",
    "outbound": "{who} replied",
    "note": "{who} added an internal note",
    "channel": "Requester connected their Telegram chat",
    "state": "{who} changed the state from {before} to {after}",
    "priority": "{who} changed the priority from {before} to {after}",
    "verification": "{who} marked the case {after} (it was {before})",
    "restricted": "{who} restricted the case to coordinators",
    "unrestricted": "{who} lifted the restriction to coordinators",
    "tags": "{who} changed the tags",
    "assigned": "{who} assigned the case to {assignee}",
    "linked": "{who} linked case {case}",
    "unlinked": "{who} unlinked case {case}",
    "check_in_missed": "Check-in missed ({step})",
    "merged": "{who} merged this case into case {case}",
    "feedback": "Requester answered “Did we help?”",
}
READS = ("opened", "file_opened")  # reads, not changes: the audit log keeps them


def _moment_words(m: timeline.Moment, procedure: Procedure | None) -> list[str]:
    who = {"requester": "Requester", "system": "Haven"}.get(m.who, m.who)
    moved, _, team = m.detail.partition(" to ")
    before, _, after = moved.partition("->")
    name = partial(_position_name, procedure)
    if m.action in READS:
        return []
    if m.action == "created":
        return ["Request received" + (" through Telegram" if m.detail == "telegram" else "")]
    if m.action != "step":
        words = MOMENT_WORDS.get(m.action, "{who}: {action}")
        return [
            words.format(
                who=who,
                before=before.replace("_", " "),
                after=after.replace("_", " "),
                case=f"{m.detail[:4]}-{m.detail[4:8]}",
                step=name(m.detail),
                assignee=m.detail,
                action=m.action.replace("_", " "),
            )
        ]
    if after in OUTCOMES:
        words = f"{who} ended the case: {OUTCOME_WORDS.get(after, after)}"
    elif before in OUTCOMES:
        words = f"{who} reopened the case into {name(after)}"
    elif before in ("", "-"):
        words = f"{who} moved the case to {name(after)}"
    else:
        words = f"{who} moved the case from {name(before)} to {name(after)}"
    return [words, f"Handed to {team}"] if team else [words]


def timeline_lines(moments: list[timeline.Moment], procedure: Procedure | None) -> list[Line]:
    """The case's timeline in words an operator reads at a glance, oldest first."""
    return [Line(m.at, words) for m in moments for words in _moment_words(m, procedure)]
