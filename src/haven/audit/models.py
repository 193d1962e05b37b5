from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(20), index=True)
    # Never content: a state name, a team slug, a record kind.
    detail: Mapped[str] = mapped_column(String(200), default="")
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
