"""Delivering operators' replies through a channel, retried until the channel takes them.

A reply is stored in its case (sealed) and its delivery row in the same transaction, so the reply is never
lost; what to send, and where, is then handed to this process's outbox in memory, because on disk it
exists only sealed in the case. A thread sends what is due, part by part (a channel has a longest message),
and writes the delivery's state after each attempt: the desk shows it beside the reply.

Failures that pass (a timeout, a flood limit, a server error) are retried with a growing pause, or the pause
the channel asked for; failures that do not (the requester blocked the bot) end the delivery. After a
restart the memory is empty: channels/replies.py hands the outbox the pending deliveries again when a
member of the case's team logs in or opens the case, since only they can open what to send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import update

from haven.background import BackgroundLoop
from haven.channels.models import PENDING, Delivery, DeliveryState
from haven.clock import now_minute
from haven.db import Database

log = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 2.0
LONGEST_PAUSE_SECONDS = 300.0
# A reply the channel has not taken after this long is given up (and shown so on the desk).
GIVE_UP_SECONDS = 72 * 3600.0
FINISHED_REMEMBERED = 10_000


class DeliveryFailed(Exception):
    """A channel did not take a message. `code` is a fixed word for the desk (never the channel's own
    words, which may quote the message); `retry_after` is the pause the channel asked for."""

    def __init__(self, code: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after


Buttons = tuple[tuple[tuple[str, str], ...], ...]  # rows of (label, data) under a message


class Channel(Protocol):
    """What the outbox needs of a channel: its longest message, and sending one, with buttons under it
    (raises DeliveryFailed)."""

    max_chars: int

    def send_reply(self, address: int, text: str, buttons: Buttons = ()) -> None: ...


@dataclass
class Parcel:
    """One reply on its way, in memory only: where it goes, its parts and how far it got."""

    record_id: str
    case_id: str
    channel: str
    address: int
    parts: list[str]
    buttons: Buttons = ()  # under the last part (the closing question's yes and no)
    sent_parts: int = 0
    attempts: int = 0
    due: float = 0.0
    first_tried: float | None = None


def split_text(text: str, max_chars: int) -> list[str]:
    """Cut a long reply into parts of at most `max_chars`: at a paragraph end if there is one in the second
    half of the part, else a line end there, else a word end there, else the last line or word end
    anywhere in it; mid-word only for a word longer than a part."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > max_chars:
        # One character past the part: a space right after it is a word end at its very end.
        window = rest[: max_chars + 1]
        half = max(1, max_chars // 2)
        cut = next(
            (found for sep in ("\n\n", "\n", " ") if (found := window.rfind(sep)) >= half),
            max(window.rfind("\n"), window.rfind(" ")),
        )
        if cut <= 0:
            cut = max_chars
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


class Outbox:
    """This process's deliveries in progress, and the thread that sends them."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._channels = channels
        self._clock = clock
        self._lock = threading.Lock()
        self._parcels: dict[str, Parcel] = {}
        # Replies this process finished lately (sent, or failed for good): not taken again when a page
        # that resumes pending deliveries read the row just before its state was written. Only that gap
        # needs covering, so the oldest are forgotten past FINISHED_REMEMBERED.
        self._finished: OrderedDict[str, None] = OrderedDict()
        # Parcels stay in memory when a pass fails (the store unreachable a moment): the next pass retries.
        self._loop = BackgroundLoop(self._pass, interval=60.0, name="haven-outbox")

    def accepts(self, channel: str) -> bool:
        return channel in self._channels

    def holds(self, record_id: str) -> bool:
        with self._lock:
            return record_id in self._parcels or record_id in self._finished

    def hand(
        self, *, record_id: str, case_id: str, channel: str, address: int, text: str, buttons: Buttons = ()
    ) -> None:
        """Take a stored reply to deliver (its delivery row must exist)."""
        parts = split_text(text, self._channels[channel].max_chars)
        with self._lock:
            if record_id in self._parcels or record_id in self._finished:
                return
            self._parcels[record_id] = Parcel(
                record_id, case_id, channel, address, parts, buttons, due=self._clock()
            )
        self._loop.wake()

    def deliver_due(self) -> int:
        """Attempt every parcel that is due, once; returns how many were attempted."""
        now = self._clock()
        with self._lock:
            due = sorted((p for p in self._parcels.values() if p.due <= now), key=lambda p: p.due)
        for parcel in due:
            self._attempt(parcel)
        return len(due)

    def _attempt(self, parcel: Parcel) -> None:
        channel = self._channels[parcel.channel]
        if parcel.first_tried is None:
            parcel.first_tried = self._clock()
        parcel.attempts += 1
        try:
            while parcel.sent_parts < len(parcel.parts):
                last = parcel.sent_parts == len(parcel.parts) - 1
                channel.send_reply(
                    parcel.address, parcel.parts[parcel.sent_parts], parcel.buttons if last else ()
                )
                parcel.sent_parts += 1
        except DeliveryFailed as failure:
            self._failed(parcel, failure)
            return
        except Exception as exc:
            # A channel's bug must not stop every other delivery: counted as a failure that passes. Only
            # the error's class is logged: its words may quote what was sent, or the bot's token.
            log.error("delivery attempt failed unexpectedly: %s", type(exc).__name__)
            self._failed(parcel, DeliveryFailed("internal_error"))
            return
        self._finish(parcel, DeliveryState.SENT, "")

    def _failed(self, parcel: Parcel, failure: DeliveryFailed) -> None:
        given_up = self._clock() - (parcel.first_tried or 0.0) >= GIVE_UP_SECONDS
        if failure.permanent or given_up:
            self._finish(parcel, DeliveryState.FAILED, failure.code if failure.permanent else "gave_up")
            return
        pause = min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2 ** (parcel.attempts - 1))
        if failure.retry_after is not None:
            pause = max(failure.retry_after, 1.0)
        parcel.due = self._clock() + pause
        self._record(parcel, DeliveryState.RETRYING, failure.code)

    def _finish(self, parcel: Parcel, state: DeliveryState, code: str) -> None:
        with self._lock:
            self._parcels.pop(parcel.record_id, None)
            self._finished[parcel.record_id] = None
            while len(self._finished) > FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
        self._record(parcel, state, code)

    def _record(self, parcel: Parcel, state: DeliveryState, code: str) -> None:
        with self._db.write() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.record_id == parcel.record_id, Delivery.state.in_(PENDING))
                .values(
                    state=state.value,
                    attempts=Delivery.attempts + 1,
                    last_error=code,
                    updated_at=now_minute(),
                )
            )

    def next_due_in(self) -> float | None:
        with self._lock:
            if not self._parcels:
                return None
            return max(0.0, min(p.due for p in self._parcels.values()) - self._clock())

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _pass(self) -> float | None:
        self.deliver_due()
        return self.next_due_in()
