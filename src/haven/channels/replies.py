"""An operator's reply, delivered through the channel that joined the case last.

That is the chat the request came from, or the one the requester attached since with their receipt (someone
who attaches a new chat has usually lost the old one). Where to deliver is sealed in the case (a CHANNEL
record: the Telegram chat id), so finding it needs the
case key, which the operator replying holds. The reply and its delivery row are written in one transaction;
then the outbox of this process sends it (channels/outbox.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.services import UnlockedOperator
from haven.audit.services import record_event
from haven.cases import services as cases
from haven.cases.models import Case, Record
from haven.cases.records import OpenedRecord, RecordKind, build_record, read_records
from haven.channels.models import PENDING, Delivery, DeliveryState
from haven.channels.outbox import Buttons, Outbox
from haven.clock import now_minute
from haven.db import Database
from haven.i18n import Translator
from haven.intake import feedback

# A delivery another worker may still be retrying (it touches the row at least every five minutes) is
# left to it; one untouched for longer lost its worker and is taken over.
TAKE_OVER_AFTER = timedelta(minutes=10)
RESUME_AT_ONCE = 200


@dataclass(frozen=True)
class Address:
    channel: str
    address: int


@dataclass(frozen=True)
class DeliveryInfo:
    channel: str
    state: DeliveryState
    attempts: int
    last_error: str


def channel_record(*, channel: str, address: int) -> dict[str, object]:
    """The sealed content of a CHANNEL record: how to reach the requester."""
    return {"channel": channel, "address": address}


def latest_address(records: Sequence[OpenedRecord]) -> Address | None:
    """The channel that joined the case most recently."""
    for record in reversed(records):
        if record.kind is RecordKind.CHANNEL:
            channel, address = record.content.get("channel"), record.content.get("address")
            if isinstance(channel, str) and isinstance(address, int):
                return Address(channel, address)
    return None


def _address(db_session: Session, operator: UnlockedOperator, case_id: str) -> Address | None:
    key = cases.case_private_key(db_session=db_session, operator=operator, case_id=case_id)
    found = read_records(
        db_session=db_session, case_id=case_id, case_private_key=key, kinds=(RecordKind.CHANNEL,)
    )
    return latest_address(found)


def _queued(record_id: str, case_id: str, channel: str, now: datetime | None) -> Delivery:
    """The delivery row of a message to send, written in the transaction that stores the message."""
    return Delivery(
        record_id=record_id,
        case_id=case_id,
        channel=channel,
        state=DeliveryState.QUEUED.value,
        attempts=0,
        last_error="",
        updated_at=now_minute(now),
    )


def reply(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    text: str,
    outbox: Outbox | None,
    now: datetime | None = None,
) -> str:
    """Store a reply (cases.services.reply) and, if the case has a channel this server runs, queue its
    delivery there in the same transaction. Returns the reply's record id."""
    address = None
    if outbox is not None:
        with db.read() as s:
            address = _address(s, operator, case_id)
        if address is not None and not outbox.accepts(address.channel):
            address = None

    def queue_delivery(s: Session, record: Record) -> None:
        assert address is not None
        s.add(_queued(record.id, case_id, address.channel, now))

    record_id = cases.reply(
        db=db,
        operator=operator,
        case_id=case_id,
        text=text,
        now=now,
        also=queue_delivery if address is not None else None,
    )
    if outbox is not None and address is not None:
        outbox.hand(
            record_id=record_id, case_id=case_id, channel=address.channel, address=address.address, text=text
        )
    return record_id


def ask_whether_we_helped(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    outbox: Outbox | None,
    now: datetime | None = None,
) -> bool:
    """Once a case ended in an outcome that asks (intake/feedback.py), send "Did we help?" with yes and no
    buttons to the requester's chat, in their language. (A requester on the website finds the question on
    their conversation page.) The question is stored as a message to them, without reopening the case.
    Returns whether it was queued."""
    if outbox is None:
        return False
    with db.read() as s:
        case = s.get(Case, case_id)
        if case is None or not feedback.asking(db_session=s, case=case):
            return False
        key = cases.case_private_key(db_session=s, operator=operator, case_id=case_id)
        found = read_records(
            db_session=s,
            case_id=case_id,
            case_private_key=key,
            kinds=(RecordKind.ANSWERS, RecordKind.CHANNEL),
        )
    address = latest_address(found)
    if address is None or not outbox.accepts(address.channel):
        return False
    answers = next((r for r in found if r.kind is RecordKind.ANSWERS), None)
    t = Translator(str(answers.content.get("language", "en")) if answers else "en")
    text = t("feedback_question")
    buttons: Buttons = (((t("feedback_yes"), "f:yes"), (t("feedback_no"), "f:no")),)
    content = {"text": text, "buttons": [list(b) for b in buttons[0]]}
    with db.write() as s:
        case, _key = cases.accessible_case(s, operator, case_id, for_writing=True)
        record = build_record(
            case=case, kind=RecordKind.OUTBOUND, content=content, author_id=operator.id, now=now
        )
        s.add(record)
        s.flush()
        s.add(_queued(record.id, case_id, address.channel, now))
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.outbound",
            case_id=case_id,
            detail="closing question",
        )
    outbox.hand(
        record_id=record.id,
        case_id=case_id,
        channel=address.channel,
        address=address.address,
        text=text,
        buttons=buttons,
    )
    return True


def _buttons_of(content: dict[str, object]) -> Buttons:
    listed = content.get("buttons")
    if not isinstance(listed, list):
        return ()
    row = tuple((str(b[0]), str(b[1])) for b in listed if isinstance(b, list) and len(b) == 2)
    return (row,) if row else ()


def deliveries(*, db: Database, case_id: str) -> dict[str, DeliveryInfo]:
    """The delivery of each reply of the case that went through a channel, by record id."""
    with db.read() as s:
        rows = s.scalars(select(Delivery).where(Delivery.case_id == case_id))
        return {
            r.record_id: DeliveryInfo(r.channel, DeliveryState(r.state), r.attempts, r.last_error)
            for r in rows
        }


def resume(
    *,
    db: Database,
    operator: UnlockedOperator,
    outbox: Outbox,
    case_id: str | None = None,
    sole_sender: bool = True,
    now: datetime | None = None,
) -> int:
    """Hand the outbox again the pending deliveries it does not hold (after a restart), of one case or of
    every case of the operator's teams (at login). Only a team member can: what to send is sealed in the
    case, so each case's key is opened here. With other workers (`sole_sender` false), a delivery is taken
    over only once its worker stopped touching it. Returns how many were handed."""
    handed = 0
    with db.read() as s:
        for delivery in _pending(s, outbox, case_id=case_id, sole_sender=sole_sender, now=now):
            try:
                key = cases.case_private_key(db_session=s, operator=operator, case_id=delivery.case_id)
            except (cases.CaseNotFound, cases.CaseForbidden, cases.NotInTeam):
                continue
            opened = read_records(
                db_session=s,
                case_id=delivery.case_id,
                case_private_key=key,
                kinds=(RecordKind.CHANNEL, RecordKind.OUTBOUND),
            )
            handed += _hand_again(outbox, delivery, opened)
    return handed


def resume_opened(
    *,
    db: Database,
    outbox: Outbox,
    case: cases.CaseView,
    sole_sender: bool = True,
    now: datetime | None = None,
) -> int:
    """Like `resume`, for one case an operator has just opened (cases.services.open_for_operator): its
    records are decrypted already, so neither its key nor its records are opened a second time."""
    with db.read() as s:
        pending = _pending(s, outbox, case_id=case.id, sole_sender=sole_sender, now=now)
        return sum(_hand_again(outbox, delivery, case.records) for delivery in pending)


def _pending(
    s: Session, outbox: Outbox, *, case_id: str | None, sole_sender: bool, now: datetime | None
) -> list[Delivery]:
    """The pending deliveries through the outbox's channels that it does not hold, oldest first."""
    query = select(Delivery).where(Delivery.state.in_(PENDING)).order_by(Delivery.updated_at)
    if case_id is not None:
        query = query.where(Delivery.case_id == case_id)
    if not sole_sender:
        query = query.where(Delivery.updated_at <= now_minute(now) - TAKE_OVER_AFTER)
    found = s.scalars(query.limit(RESUME_AT_ONCE))
    return [d for d in found if outbox.accepts(d.channel) and not outbox.holds(d.record_id)]


def _hand_again(outbox: Outbox, delivery: Delivery, opened: Sequence[OpenedRecord]) -> int:
    """Hand the outbox the reply of a delivery, from the case's opened records (oldest first); 1 if
    handed, 0 if the reply or where it went is not among them."""
    at = next((i for i, r in enumerate(opened) if r.id == delivery.record_id), None)
    if at is None:
        return 0
    # The address the reply was queued for: the latest channel record written before it.
    address = latest_address(opened[:at])
    if address is None:
        return 0
    reply_record = opened[at]
    outbox.hand(
        record_id=delivery.record_id,
        case_id=delivery.case_id,
        channel=address.channel,
        address=address.address,
        text=str(reply_record.content.get("text", "")),
        buttons=_buttons_of(reply_record.content),
    )
    return 1
